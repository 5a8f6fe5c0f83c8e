"""Checks and encoders shared by the SDK-batch and OTLP converters.

They are written for the hot path: precompiled patterns, exact ``type`` checks, and UTF-8
size measured only when a string could exceed the limit.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from haloscope.platform.ingest.errors import SpanRejected

# DateTime64(6) holds instants before 2300-01-01; span times are microseconds since the epoch.
MAX_TIME_US = 10_413_792_000_000_000
MAX_UINT32 = 2**32 - 1

is_hex_trace_id = re.compile(r"[0-9a-fA-F]{32}").fullmatch
is_hex_span_id = re.compile(r"[0-9a-fA-F]{16}").fullmatch
ZERO_TRACE_ID = "0" * 32
ZERO_SPAN_ID = "0" * 16
SPAN_STATUSES = frozenset({"ok", "error"})


def check_text(field: str, value: str, max_bytes: int) -> str:
    """Return ``value`` when its UTF-8 size is at most ``max_bytes``, else reject the span."""
    n = len(value)
    if n * 4 > max_bytes and (n > max_bytes or len(value.encode()) > max_bytes):
        raise SpanRejected(f"{field} exceeds {max_bytes} bytes")
    return value


def optional_text(field: str, value: Any, max_bytes: int) -> str:
    """A string field that may be absent or null (stored as an empty string)."""
    if value is None:
        return ""
    if type(value) is not str:
        raise SpanRejected(f"{field} must be a string")
    return check_text(field, value, max_bytes)


def json_text(field: str, value: Any, max_bytes: int) -> str:
    """Serialise a JSON value for a JSON-text column; absent/null is stored as ``""``."""
    if value is None:
        return ""
    try:
        encoded = orjson.dumps(value)
    except TypeError as exc:
        raise SpanRejected(f"{field} is not JSON-serialisable: {exc}") from exc
    if len(encoded) > max_bytes:
        raise SpanRejected(f"{field} exceeds {max_bytes} bytes")
    return encoded.decode()


def stringify(value: Any) -> str:
    """A metadata value as text: strings unchanged, anything else as compact JSON."""
    if type(value) is str:
        return value
    return orjson.dumps(value, default=str).decode()


def metadata_map(field: str, value: Any, max_bytes: int) -> dict[str, str]:
    """Validate a metadata object and stringify its values."""
    if type(value) is not dict:
        raise SpanRejected(f"{field} must be an object")
    # The common case, all values short strings, needs no copy: a string of at most
    # max_bytes // 4 characters fits in max_bytes of UTF-8.
    short = max_bytes // 4
    for item in value.values():
        if type(item) is not str or len(item) > short:
            break
    else:
        return value
    out = {}
    for key, item in value.items():
        if type(item) is not str:
            item = orjson.dumps(item, default=str).decode()
        out[key] = (
            item if len(item) * 4 <= max_bytes else check_text(f"{field}.{key}", item, max_bytes)
        )
    return out


def string_list(field: str, value: Any, max_bytes: int) -> list[str]:
    """Validate an array of strings (tags)."""
    if value is None:
        return []
    if type(value) is not list:
        raise SpanRejected(f"{field} must be an array of strings")
    for item in value:
        if type(item) is not str:
            raise SpanRejected(f"{field} must be an array of strings")
        check_text(field, item, max_bytes)
    return value


def token_count(field: str, value: Any) -> int:
    """A token count: an integer in the UInt32 range; absent means 0."""
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value <= MAX_UINT32:
        raise SpanRejected(f"{field} must be an integer between 0 and {MAX_UINT32}")
    return value


def cost_usd(field: str, value: Any) -> float:
    """A cost in USD: a finite non-negative number; absent means 0."""
    if value is None:
        return 0.0
    if type(value) not in (int, float) or not (value >= 0 and math.isfinite(value)):
        raise SpanRejected(f"{field} must be a finite non-negative number")
    return float(value)


def check_times(start: Any, end: Any) -> None:
    """Start and end must be integer microseconds in range with ``end >= start``."""
    if type(start) is not int or not 0 < start < MAX_TIME_US:
        raise SpanRejected("start_time must be integer microseconds since the Unix epoch")
    if type(end) is not int or not 0 < end < MAX_TIME_US:
        raise SpanRejected("end_time must be integer microseconds since the Unix epoch")
    if end < start:
        raise SpanRejected("end_time is before start_time")


def check_documents(documents: Any) -> None:
    """Retrieved documents: an array of objects whose ``score`` is a number and ``content`` a
    string when present."""
    if type(documents) is not list:
        raise SpanRejected("documents must be an array of {id, score, content} objects")
    for doc in documents:
        if type(doc) is not dict:
            raise SpanRejected("documents must be an array of {id, score, content} objects")
        score = doc.get("score")
        if score is not None and type(score) not in (int, float):
            raise SpanRejected("documents[].score must be a number")
        content = doc.get("content")
        if content is not None and type(content) is not str:
            raise SpanRejected("documents[].content must be a string")
