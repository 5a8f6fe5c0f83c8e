"""One OTLP span as both decoders yield it to the mapping: :class:`SpanRecord`.

The compiled decoder (``_otlp_wire``) and the Python view (``otlp_view.span_record``) build
this one type; its ordered field names, ``SpanRecord._fields``, are the field table the
compiled decoder is given at import (``set_types``), and it fills each field by name.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# Each event's name and attributes, in the span's order.
Events = list[tuple[str, dict[str, Any]]]


class SpanRecord(NamedTuple):
    """The fields of one span the mapping reads; absent ones are empty (``b""``, ``""``, 0)."""

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    start_time_unix_nano: int
    end_time_unix_nano: int
    slots: list[Any]  # the value taken by each column slot (otlp_mapping's sources), or None
    attributes: dict[str, Any]  # the attributes no slot took
    events: Events
    status_code: int
    status_message: str
