"""The trace-list filter accepted by :meth:`TraceStore.list_traces`."""

from __future__ import annotations

from dataclasses import dataclass

TRACE_STATUSES: frozenset[str] = frozenset({"ok", "error"})


@dataclass(frozen=True)
class TraceFilter:
    """Which traces to list; every field left at its default matches everything.

    ``start_us``/``end_us`` bound the trace's start time (µs, half-open ``[start, end)``).
    ``kinds``, ``names``, ``models`` and ``search`` (case-insensitive substring of a span's
    input or output JSON text) select traces with at least one span matching all of them.
    ``user_id``, ``session_id`` and ``release`` match any span of the trace; ``tags`` must all
    appear among the trace's tags; ``status`` is "error" when any span errored, else "ok".
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

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in TRACE_STATUSES:
            raise ValueError(f"status must be 'ok' or 'error', not {self.status!r}")
        if self.start_us is not None and self.end_us is not None and self.end_us <= self.start_us:
            raise ValueError("end_us must be after start_us")
