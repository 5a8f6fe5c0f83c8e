"""Render Python values as the text ClickHouse parses for a ``{name:Type}`` query parameter.

ClickHouse reads a parameter value in its *escaped* text form (the TabSeparated escaping):
backslash, tab and newline must be escaped or the value is mangled or rejected. Arrays are
written as literals whose string elements are single-quoted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ESCAPED = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
_QUOTED = str.maketrans({"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\0": "\\0"})


def _scalar(value: Any, *, in_array: bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return f"'{value.translate(_QUOTED)}'" if in_array else value.translate(_ESCAPED)
    raise TypeError(f"unsupported query parameter type {type(value).__name__}")


def render_param(value: Any) -> str:
    """The escaped text form of one parameter value (str, int, float, bool or a sequence)."""
    if isinstance(value, list | tuple):
        return "[" + ",".join(_scalar(v, in_array=True) for v in value) + "]"
    return _scalar(value, in_array=False)


def render_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Every parameter rendered with :func:`render_param`."""
    return {name: render_param(value) for name, value in (params or {}).items()}
