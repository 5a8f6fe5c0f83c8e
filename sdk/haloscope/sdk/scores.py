"""``score()``: send a score (human feedback, an app's own check) for a trace or a span.

Scores travel through the same background exporter as spans (``POST /api/v1/scores``): the
call only validates and queues, never blocks on the network and never raises into the app.
"""

from __future__ import annotations

import math
from typing import Any

from ._logging import log_once
from .tracing import active_client, current_span

SOURCES = ("api", "sdk", "annotation", "judge")


def score(
    name: str,
    value: float | bool | str,
    trace_id: str | None = None,
    span_id: str | None = None,
    comment: str | None = None,
    *,
    source: str = "sdk",
    author: str | None = None,
    idempotency_key: str | None = None,
) -> None:
    """Score the current span, or the span ``span_id`` / the trace ``trace_id`` when given
    (``trace_id`` alone scores the whole trace). ``value`` is a number, a boolean or a
    category string. A score that cannot be sent (no trace, a bad value, an unsampled trace)
    is logged once and dropped. Re-sending the same ``idempotency_key`` replaces the score
    instead of adding one; without a key an identical score counts once."""
    try:
        item = _score_item(name, value, trace_id, span_id, comment, source, author)
    except ValueError as exc:
        log_once(f"score-{exc}", "haloscope: score() dropped: %s", exc)
        return
    if item is None:
        return
    if idempotency_key is not None:
        item["idempotency_key"] = str(idempotency_key)
    sink = active_client().sink
    if sink is not None:
        sink(item)


def _score_item(
    name: Any,
    value: Any,
    trace_id: str | None,
    span_id: str | None,
    comment: str | None,
    source: str,
    author: str | None,
) -> dict[str, Any] | None:
    """The JSON score object, None for an unsampled current trace; ValueError on bad input."""
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("value must be finite")
    if not isinstance(value, bool | int | float | str) or value == "":
        raise ValueError("value must be a number, a boolean or a non-empty string")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}")
    item: dict[str, Any] = {"name": name, "value": value, "source": source}
    active = current_span.get()
    if trace_id is None:
        if active is None:
            raise ValueError("no current span: pass trace_id (and span_id)")
        trace_id, span_id = active.trace_id, span_id or active.span_id
    if active is not None and trace_id == active.trace_id:
        if not active.trace.sampled:
            return None
        # The current trace is not stored yet: place the score at this span's start (the
        # platform otherwise looks the target's start up among the stored spans).
        item["timestamp"] = active.start_time
    item["trace_id"] = trace_id
    if span_id:
        item["span_id"] = span_id
    if comment is not None:
        item["comment"] = str(comment)
    if author is not None:
        item["author"] = str(author)
    return item
