"""The outcome of converting one ingest request: accepted span rows and per-span rejections."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Rejection:
    """A span that was not stored: its position in the request, its id (if any) and why."""

    index: int
    span_id: str
    reason: str


@dataclass(slots=True)
class ConvertedBatch:
    """Span rows ready for the store (``SPAN_COLUMNS`` keys) and the spans that were rejected."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
