"""The outcome of converting one ingest request: accepted span rows and per-span rejections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from haloscope.platform.store.encoding import SpanRow, row_dict


@dataclass(frozen=True, slots=True)
class Rejection:
    """A span that was not stored: its position in the request, its id (if any) and why."""

    index: int
    span_id: str
    reason: str


@dataclass(slots=True)
class ConvertedBatch:
    """Span rows ready for the store (``SpanRow`` tuples) and the spans that were rejected."""

    rows: list[SpanRow] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)

    def row_dicts(self) -> list[dict[str, Any]]:
        """The accepted rows as dicts keyed by SPAN_COLUMNS."""
        return [row_dict(row) for row in self.rows]
