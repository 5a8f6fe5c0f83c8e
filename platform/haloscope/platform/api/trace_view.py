"""Stored spans as API objects, in the shape of the SDK wire format, and their tree."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from haloscope.platform.store.span_tree import build_span_tree

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(value: Any) -> int:
    """A stored timestamp (datetime or integer microseconds) as epoch microseconds."""
    if isinstance(value, datetime):
        delta = (value if value.tzinfo else value.replace(tzinfo=UTC)) - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return int(value)


def span_view(row: dict[str, Any]) -> dict[str, Any]:
    """A stored span (JSON columns already decoded) in the wire-format shape: ``usage`` and
    ``tool`` objects, null for absent ids and tool, times in epoch microseconds."""
    start, end = epoch_us(row["start_time"]), epoch_us(row["end_time"])
    tool_name, tool_arguments = row.get("tool_name") or "", row.get("tool_arguments")
    return {
        "trace_id": row["trace_id"],
        "span_id": row["span_id"],
        "parent_span_id": row.get("parent_span_id") or None,
        "name": row["name"],
        "kind": row["kind"],
        "start_time": start,
        "end_time": end,
        "duration_us": end - start,
        "status": row["status"],
        "status_message": row.get("status_message", ""),
        "input": row.get("input"),
        "output": row.get("output"),
        "model": row.get("model", ""),
        "provider": row.get("provider", ""),
        "usage": {
            "prompt_tokens": row.get("prompt_tokens", 0),
            "completion_tokens": row.get("completion_tokens", 0),
            "total_tokens": row.get("total_tokens", 0),
        },
        "cost": row.get("cost", 0.0),
        "documents": row.get("documents"),
        "tool": (
            {"name": tool_name, "arguments": tool_arguments}
            if tool_name or tool_arguments is not None
            else None
        ),
        "session_id": row.get("session_id", ""),
        "user_id": row.get("user_id", ""),
        "release": row.get("release", ""),
        "tags": list(row.get("tags") or ()),
        "metadata": dict(row.get("metadata") or {}),
    }


def tree_json(spans: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The trace's span tree (:func:`build_span_tree`) as nested ``{"span_id", "children"}``
    objects, one per span id, roots first."""
    tree = build_span_tree(spans)
    nodes = {span_id: {"span_id": span_id, "children": []} for span_id in tree.children}
    for span_id, children in tree.children.items():
        nodes[span_id]["children"] = [nodes[child["span_id"]] for child in children]
    return [nodes[root["span_id"]] for root in tree.roots]
