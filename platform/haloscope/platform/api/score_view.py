"""Stored scores as API objects."""

from __future__ import annotations

from typing import Any

from haloscope.platform.scores.submission import typed_value


def score_view(row: dict[str, Any]) -> dict[str, Any]:
    """A score read by the score queries: its value as sent (number, boolean or category),
    null for an absent span id; a deleted score's tombstone adds who deleted it and when."""
    view = {
        "id": row["id"],
        "trace_id": row["trace_id"],
        "span_id": row["span_id"] or None,
        "name": row["name"],
        "value": typed_value(row["value_type"], float(row["value"]), row["string_value"]),
        "value_type": row["value_type"],
        "comment": row["comment"],
        "source": row["source"],
        "author": row["author"],
        "idempotency_key": row["idempotency_key"] or None,
        "timestamp": int(row["timestamp_us"]),
        "created_at": int(row["created_us"]),
        "evaluator_version": row["evaluator_version"],
        "label": row["label"],
        "reason": row["reason"],
        "sampling_run_id": row["sampling_run_id"],
    }
    if row["deleted"]:
        view.update(deleted_by=row["deleted_by"], deleted_at=view.pop("created_at"))
    return view
