"""The current span (a ``contextvars`` variable) and the APIs that read or change it."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from . import client as _clients
from ._logging import log_once, logger
from .ids import is_sampled, new_span_id, new_trace_id
from .spans import Span, TraceState, validate_kind

current_span: ContextVar[Span | None] = ContextVar("haloscope_current_span", default=None)


def start_span(client: _clients.Client, name: str, kind: str, parent: Span | None) -> Span:
    """A new open span: a child of ``parent``, or the root of a new (sampled or not) trace."""
    if parent is not None:
        return Span(parent.trace, new_span_id(), parent.sid, name, kind, parent._sink)
    trace_id = new_trace_id()
    trace = TraceState(trace_id, is_sampled(trace_id, client.sampling_threshold))
    return Span(trace, new_span_id(), 0, name, kind, client.sink if trace.sampled else None)


def active_client() -> _clients.Client:
    """The configured client (created from the environment on first use)."""
    return _clients._client or _clients.get_client()


class SpanScope:
    """``with span(...)`` / ``async with span(...)``: opens a span and makes it current."""

    __slots__ = ("_name", "_kind", "_input", "_fields", "_span", "_token")

    def __init__(self, name: str, kind: str, input: Any, fields: dict[str, Any]) -> None:
        self._name = name
        self._kind = kind
        self._input = input
        self._fields = fields
        self._span: Span | None = None
        self._token: Any = None

    def __enter__(self) -> Span:
        span = start_span(active_client(), self._name, self._kind, current_span.get())
        if self._input is not None:
            span.input = self._input
        if self._fields:
            span.update(**self._fields)
        self._span = span
        self._token = current_span.set(span)
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        if span is None:
            return
        if exc is not None:
            span.record_exception(exc)
        try:
            current_span.reset(self._token)
        except ValueError:
            # Exited in another context than it was entered in (e.g. across tasks).
            logger.debug("haloscope: span %r exited in a different context", self._name)
        span.end()

    async def __aenter__(self) -> Span:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


def span(name: str, *, as_type: str = "span", input: Any = None, **fields: Any) -> SpanScope:
    """Context manager tracing a block: ``with span("retrieve", as_type="retrieval") as s:``.

    ``fields`` are those of :func:`update_current_span`; the handle has ``update()`` and
    ``set_output()``. Exceptions leaving the block mark the span as failed and propagate.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("span name must be a non-empty string")
    return SpanScope(name, validate_kind(as_type), input, fields)


def update_current_span(**fields: Any) -> None:
    """Set fields on the active span: output, input, metadata, tags, model, provider,
    messages, usage, cost, documents, query, tool_name, tool_arguments, level, status,
    status_message. Without an active span this logs once and does nothing."""
    active = current_span.get()
    if active is None:
        log_once("no-span", "haloscope: update_current_span() called outside of a span")
        return
    active.update(**fields)


def update_current_trace(
    user_id: str | None = None,
    session_id: str | None = None,
    tags: list[str] | None = None,
    release: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Set trace-level fields, applied to every span of the active trace not yet exported."""
    active = current_span.get()
    if active is None:
        log_once("no-trace", "haloscope: update_current_trace() called outside of a trace")
        return
    active.trace.update(user_id, session_id, tags, release, metadata)


def get_current_trace_id() -> str | None:
    """The active trace's id (32 hex digits), ``None`` outside of a trace."""
    active = current_span.get()
    return active.trace_id if active is not None else None


def get_current_span_id() -> str | None:
    """The active span's id (16 hex digits), ``None`` outside of a span."""
    active = current_span.get()
    return active.span_id if active is not None else None


# The names ``score()``'s documentation uses.
current_trace_id = get_current_trace_id
current_span_id = get_current_span_id
