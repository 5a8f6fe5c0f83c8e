"""Presenting one trace: the span tree in display order with waterfall positions, and the
shapes the span panel recognises (chat messages, per-claim evidence)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haloscope.platform.store.span_tree import build_span_tree


@dataclass(frozen=True)
class SpanRow:
    """A span in tree order: its depth, and its bar as fractions of the trace's duration."""

    span: dict[str, Any]
    depth: int
    offset: float
    width: float


def span_rows(spans: Sequence[dict[str, Any]]) -> list[SpanRow]:
    """The trace's span tree (:func:`build_span_tree`) depth-first, roots first; a span id
    stands once, where the walk first reaches it."""
    if not spans:
        return []
    tree = build_span_tree(spans)
    start = min(s["start_time"] for s in spans)
    total = max(max(s["end_time"] for s in spans) - start, 1)
    rows: list[SpanRow] = []
    seen: set[str] = set()
    stack = [(span, 0) for span in reversed(tree.roots)]
    while stack:
        span, depth = stack.pop()
        if span["span_id"] in seen:
            continue
        seen.add(span["span_id"])
        rows.append(
            SpanRow(
                span,
                depth,
                (span["start_time"] - start) / total,
                (span["end_time"] - span["start_time"]) / total,
            )
        )
        stack.extend((kid, depth + 1) for kid in reversed(tree.children[span["span_id"]]))
    return rows


def chat_messages(value: Any) -> list[dict[str, Any]] | None:
    """``value`` as chat messages (``{role, content}`` objects), or None if it is not."""
    candidates = [value] if isinstance(value, dict) else value
    if (
        isinstance(candidates, list)
        and candidates
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in candidates)
    ):
        return candidates
    return None


def evidence_items(text: str) -> list[dict[str, Any]] | None:
    """Per-claim evidence stored as a JSON list of objects, or None when it is other text."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("claims"), list):
        value = value["claims"]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return value
    return None


def evidence_columns(items: Sequence[dict[str, Any]]) -> list[str]:
    """The union of the evidence items' keys, in first-seen order."""
    columns: dict[str, None] = {}
    for item in items:
        columns.update(dict.fromkeys(item))
    return list(columns)
