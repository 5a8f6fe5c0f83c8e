"""The trace-list filter accepted by :meth:`TraceStore.list_traces`."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

TRACE_STATUSES: frozenset[str] = frozenset({"ok", "error"})
# The most metadata conditions (``metadata`` and ``metadata_exists`` together) one list takes.
MAX_METADATA_CONDITIONS = 20


@dataclass(frozen=True)
class TraceFilter:
    """Which traces to list; every field left at its default matches everything.

    ``start_us``/``end_us`` bound the trace's start time (µs, half-open ``[start, end)``).
    ``kinds``, ``names``, ``models`` and ``search`` (case-insensitive substring of a span's
    input or output JSON text) select traces with at least one span matching all of them.
    ``user_id``, ``session_id`` and ``release`` match any span of the trace; ``tags`` must all
    appear among the trace's tags; ``status`` is "error" when any span errored, else "ok".
    ``metadata`` holds ``(key, value)`` pairs and ``metadata_exists`` keys: each one some span
    of the trace must carry (the pairs with that exact value; each condition may be met by a
    different span). ``min_duration_us``/``max_duration_us`` bound the trace's duration (first
    start to last end) and ``min_cost``/``max_cost`` its total cost (USD), both inclusive.
    """

    start_us: int | None = None
    end_us: int | None = None
    kinds: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    status: str | None = None
    search: str | None = None
    metadata: tuple[tuple[str, str], ...] = ()
    metadata_exists: tuple[str, ...] = ()
    min_duration_us: int | None = None
    max_duration_us: int | None = None
    min_cost: float | None = None
    max_cost: float | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in TRACE_STATUSES:
            raise ValueError(f"status must be 'ok' or 'error', not {self.status!r}")
        if self.start_us is not None and self.end_us is not None and self.end_us <= self.start_us:
            raise ValueError("end_us must be after start_us")
        if len(self.metadata) + len(self.metadata_exists) > MAX_METADATA_CONDITIONS:
            raise ValueError(f"give at most {MAX_METADATA_CONDITIONS} metadata conditions")
        if any(not key for key, _ in self.metadata) or not all(self.metadata_exists):
            raise ValueError("a metadata key must not be empty")
        for name, shown in (("duration_us", "latency"), ("cost", "cost")):
            low, high = getattr(self, f"min_{name}"), getattr(self, f"max_{name}")
            for value in (low, high):
                if value is not None and not (math.isfinite(value) and value >= 0):
                    raise ValueError(f"{shown} bounds must be finite and not negative")
            if low is not None and high is not None and low > high:
                raise ValueError(f"the minimum {shown} must not exceed the maximum")


def metadata_condition(text: str) -> tuple[str, str]:
    """``key=value`` as ``(key, value)``: split at the first ``=`` (so a key holds none, a
    value may); ValueError without ``=`` or with an empty key."""
    key, equals, value = text.partition("=")
    if not equals or not key.strip():
        raise ValueError(f"metadata filter {text!r} must be key=value (a key, '=', a value)")
    return key.strip(), value.strip()


def metadata_conditions(texts: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """Every ``key=value`` of ``texts`` (see :func:`metadata_condition`)."""
    return tuple(metadata_condition(text) for text in texts if text.strip())


def bound(name: str, text: str | None, scale: float = 1.0) -> float | None:
    """A range bound typed by a person: a finite number >= 0 times ``scale``, None when blank;
    ValueError naming ``name`` otherwise."""
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, not {text!r}")
    return value * scale


def duration_bound(name: str, milliseconds: str | None) -> int | None:
    """A latency bound given in milliseconds, as whole microseconds (see :func:`bound`)."""
    value = bound(name, milliseconds, 1000.0)
    if value is not None and value >= 2**62:
        raise ValueError(f"{name} is too large: {milliseconds!r}")
    return None if value is None else round(value)
