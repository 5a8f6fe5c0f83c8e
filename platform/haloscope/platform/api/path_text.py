"""A path-parameter convertor for ids chosen by the instrumented application (session and user
ids): any text, slashes and line breaks included. Starlette's ``path`` convertor (``.*``) stops
at a line break, so such an id would fall through to a 404 of no route; ``{name:text}``
reaches the route, which answers for the id itself."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class AnyTextConvertor(Convertor[str]):
    """One or more characters of any kind (``[\\s\\S]+``)."""

    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        """The text as it is."""
        return value

    def to_string(self, value: str) -> str:
        """The text as it is."""
        return value


# The convertor's name in a route path (``{session_id:text}``); registered on import, before
# any route using it is built.
TEXT = "text"
register_url_convertor(TEXT, AnyTextConvertor())
