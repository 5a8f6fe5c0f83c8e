"""Trace and span identifiers, and the per-trace sampling decision.

Identifiers are kept as integers on the hot path and formatted as lowercase hex
(32 digits for a trace, 16 for a span) only when a span is serialised or asked for.
"""

from __future__ import annotations

from random import getrandbits

_UPPER_64 = 1 << 64


def new_trace_id() -> int:
    """A random non-zero 128-bit trace id."""
    return getrandbits(128) or 1


def new_span_id() -> int:
    """A random non-zero 64-bit span id."""
    return getrandbits(64) or 1


def format_trace_id(value: int) -> str:
    """A trace id as 32 lowercase hex digits."""
    return f"{value:032x}"


def format_span_id(value: int) -> str:
    """A span id as 16 lowercase hex digits."""
    return f"{value:016x}"


def sampling_threshold(sample_rate: float) -> int:
    """The bound below which a trace id's upper 64 bits mean "keep this trace"."""
    if sample_rate >= 1.0:
        return _UPPER_64
    if sample_rate <= 0.0:
        return 0
    return int(sample_rate * _UPPER_64)


def is_sampled(trace_id: int, threshold: int) -> bool:
    """Deterministic per-trace decision: the same trace id always gets the same answer."""
    return (trace_id >> 64) < threshold
