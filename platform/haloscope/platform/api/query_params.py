"""Parsing query-string values: timestamps, time windows and comma-separated lists."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from haloscope.platform.api.errors import ApiError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The end of year 9999, the last instant an ISO 8601 timestamp can name, in epoch microseconds.
MAX_TIMESTAMP_US = 253_402_300_800_000_000
DEFAULT_WINDOW_US = 7 * 86_400 * 1_000_000


def parse_timestamp(name: str, value: str | None) -> int | None:
    """ISO 8601 (``2025-01-31T12:00:00Z``; naive means UTC) or integer epoch microseconds, as
    epoch microseconds; 400 when it is neither or lies after the year 9999."""
    if value is None or value == "":
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # str.isdigit() also accepts "²", which int() refuses
        micros = int(text)
        if micros >= MAX_TIMESTAMP_US:
            raise ApiError(400, f"{name}={value!r}: epoch microseconds must name a year up to 9999")
        return micros
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ApiError(
            400, f"{name}={value!r}: use ISO 8601 (2025-01-31T12:00:00Z) or epoch microseconds"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def choices(name: str, values: Iterable[str], allowed: Iterable[str]) -> tuple[str, ...]:
    """Split repeated and comma-separated values, each of which must be in ``allowed``."""
    allowed = frozenset(allowed)
    out = tuple(part.strip() for value in values for part in value.split(",") if part.strip())
    unknown = sorted(set(out) - allowed)
    if unknown:
        raise ApiError(400, f"{name}: unknown value(s) {unknown}; allowed: {sorted(allowed)}")
    return out


def one_choice(name: str, value: str | None, allowed: Iterable[str]) -> str | None:
    """``value`` (surrounding blanks ignored), which must be one of ``allowed``; None when
    blank."""
    found = choices(name, [value or ""], allowed)
    if len(found) > 1:
        raise ApiError(400, f"{name}: give one value, not {value!r}")
    return found[0] if found else None


def time_window(start: str | None, end: str | None) -> tuple[int, int]:
    """``[start, end)`` in epoch microseconds: ``end`` defaults to now, ``start`` to the 7
    days before ``end``; 400 when either is unreadable or the range is empty."""
    end_us = parse_timestamp("end", end) or int(time.time() * 1_000_000)
    start_us = parse_timestamp("start", start)
    if start_us is None:
        start_us = end_us - DEFAULT_WINDOW_US
    if end_us <= start_us:
        raise ApiError(400, "end must be after start")
    return start_us, end_us
