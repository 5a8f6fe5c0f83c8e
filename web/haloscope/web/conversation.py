"""Presenting sessions and users: a trace's input and output as the turn of a conversation,
and the sortable columns of the session and user tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from haloscope.web.errors import PageError
from haloscope.web.trace_view import chat_messages

# Fields a request object commonly keeps its text in, tried in this order.
_TEXT_FIELDS = ("content", "question", "query", "input", "message", "text", "prompt", "answer")
MAX_OFFSET = 1_000_000


def turn_text(value: Any, role: str) -> str | None:
    """What a person would read of a trace's input (``role`` "user") or output ("assistant"):
    text as it is; of chat messages the last one of that role (else the last one); of an
    object its one text field or a common one (``content``, ``question``, ...); None when the
    value is anything else (the page then shows it as JSON)."""
    if isinstance(value, str):
        return value
    messages = chat_messages(value)
    if messages:
        mine = [m for m in messages if m.get("role") == role] or messages
        content = mine[-1]["content"]
        return content if isinstance(content, str) else None
    if isinstance(value, dict):
        texts = {k: v for k, v in value.items() if isinstance(v, str)}
        if len(value) == 1 and texts:
            return next(iter(texts.values()))
        return next((texts[k] for k in _TEXT_FIELDS if k in texts), None)
    return None


def page_offset(raw: str | None) -> int:
    """The ``offset`` query value of a paged table; 400 unless a whole number in range."""
    text = (raw or "").strip()
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_OFFSET:
        raise PageError(400, f"Offset must be a whole number up to {MAX_OFFSET:,}, not {raw!r}.")
    return int(text)


@dataclass(frozen=True)
class SortableTable:
    """A table whose column headers re-sort it: the current sort (``<key>_desc|asc``), the
    other query values to keep in every link, the shown page's offset, and each column's link
    and ``aria-sort``."""

    sort: str
    keep: Mapping[str, str]
    offset: int = 0

    def _link(self, **values: str | int | None) -> str:
        merged = {**self.keep, "sort": self.sort, **values}
        return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "", 0)})

    @property
    def hidden_fields(self) -> dict[str, str]:
        """The values the time-range picker keeps (the sort and the filters, not the range)."""
        kept = {k: v for k, v in self.keep.items() if v and k != "range"}
        return {**kept, "sort": self.sort} if self.sort else kept

    def sort_link(self, key: str) -> str:
        """The link sorting by ``key``: descending first, reversed when already sorted so."""
        direction = "asc" if self.sort == f"{key}_desc" else "desc"
        return self._link(sort=f"{key}_{direction}", offset=None)

    def aria_sort(self, key: str) -> str:
        """``descending``, ``ascending`` or ``none`` for the header of ``key``."""
        if self.sort == f"{key}_desc":
            return "descending"
        return "ascending" if self.sort == f"{key}_asc" else "none"

    def page_link(self, offset: int | None) -> str | None:
        """The link to the page at ``offset`` (None when there is no such page)."""
        return None if offset is None else self._link(offset=offset)
