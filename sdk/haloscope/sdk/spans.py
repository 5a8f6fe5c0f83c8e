"""In-process span and trace records, and the handle applications update.

A :class:`Span` only stores references on the caller's hot path; turning captured
values into JSON happens later, in the exporter's thread (see ``wire.py``).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._logging import log_once
from .ids import format_span_id, format_trace_id


def wall_clock_us() -> int:
    """Microseconds since the Unix epoch from the system clock."""
    return time.time_ns() // 1000


_clock: Callable[[], int] = wall_clock_us


def set_clock(clock: Callable[[], int] | None) -> None:
    """Replace the source of span timestamps (integer microseconds since the epoch).

    For replaying or importing recorded work with its original times; ``None`` restores the
    system clock. The clock is process-wide.
    """
    global _clock
    _clock = clock or wall_clock_us


# The kinds of span; the platform validates ingested spans against the same set.
SPAN_KINDS: frozenset[str] = frozenset(
    {"llm", "retrieval", "tool", "chain", "agent", "embedding", "span"}
)

# Fields accepted by Span.update / update_current_span, stored as given.
_PLAIN_FIELDS = frozenset(
    {
        "model",
        "provider",
        "messages",
        "usage",
        "cost",
        "documents",
        "query",
        "tool_name",
        "tool_arguments",
        "status_message",
    }
)
_LEVELS = frozenset({"debug", "default", "warning", "error"})


class _Unset:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def validate_kind(as_type: str) -> str:
    """``as_type`` if it names a span kind, else ``ValueError``."""
    if as_type not in SPAN_KINDS:
        raise ValueError(f"as_type must be one of {sorted(SPAN_KINDS)}, got {as_type!r}")
    return as_type


class CallArgs:
    """A function's call arguments, bound to parameter names only when serialised."""

    __slots__ = ("signature", "args", "kwargs")

    def __init__(self, signature: inspect.Signature | None, args: tuple, kwargs: dict) -> None:
        self.signature = signature
        self.args = args
        self.kwargs = kwargs

    def bind(self) -> dict[str, Any]:
        """Arguments by parameter name; ``self``/``cls`` left out, ``**kwargs`` flattened."""
        if self.signature is None:
            return {"args": list(self.args), "kwargs": dict(self.kwargs)}
        try:
            bound = self.signature.bind_partial(*self.args, **self.kwargs)
        except TypeError:
            return {"args": list(self.args), "kwargs": dict(self.kwargs)}
        params = self.signature.parameters
        result: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if name in ("self", "cls"):
                continue
            if params[name].kind is inspect.Parameter.VAR_KEYWORD:
                result.update(value)
            else:
                result[name] = value
        return result


class TraceState:
    """Attributes shared by every span of one trace (``update_current_trace``)."""

    __slots__ = ("trace_id", "sampled", "user_id", "session_id", "release", "tags", "metadata")

    def __init__(self, trace_id: int, sampled: bool) -> None:
        self.trace_id = trace_id
        self.sampled = sampled
        self.user_id: str | None = None
        self.session_id: str | None = None
        self.release: str | None = None
        self.tags: list[str] | None = None
        self.metadata: dict[str, Any] | None = None

    def update(
        self,
        user_id: str | None = None,
        session_id: str | None = None,
        tags: list[str] | None = None,
        release: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        """Set trace-level fields; tags accumulate, metadata merges."""
        if metadata is not None and not isinstance(metadata, Mapping):
            log_once("trace-metadata", "haloscope: trace metadata must be a mapping, ignored")
            metadata = None
        if user_id is not None:
            self.user_id = str(user_id)
        if session_id is not None:
            self.session_id = str(session_id)
        if release is not None:
            self.release = str(release)
        if tags:
            self.tags = _merge_tags(self.tags, tags)
        if metadata:
            self.metadata = {**(self.metadata or {}), **metadata}


def _merge_tags(existing: list[str] | None, new: Any) -> list[str]:
    if isinstance(new, str):
        new = [new]
    merged = list(existing or ())
    merged.extend(str(tag) for tag in new if str(tag) not in merged)
    return merged


class Span:
    """One unit of work in a trace; the handle returned by ``span()``.

    Update it with :meth:`update` / :meth:`set_output`; the SDK ends it.
    """

    __slots__ = (
        "trace",
        "sid",
        "parent_sid",
        "name",
        "kind",
        "start_time",
        "end_time",
        "status",
        "input",
        "output",
        "attrs",
        "metadata",
        "tags",
        "_sink",
    )

    def __init__(
        self,
        trace: TraceState,
        sid: int,
        parent_sid: int,
        name: str,
        kind: str,
        sink: Callable[[Span], None] | None,
    ) -> None:
        self.trace = trace
        self.sid = sid
        self.parent_sid = parent_sid
        self.name = name
        self.kind = kind
        self.start_time = _clock()
        self.end_time = 0
        self.status = "ok"
        self.input: Any = UNSET
        self.output: Any = UNSET
        self.attrs: dict[str, Any] | None = None
        self.metadata: dict[str, Any] | None = None
        self.tags: list[str] | None = None
        self._sink = sink

    @property
    def trace_id(self) -> str:
        """The trace id as 32 lowercase hex digits."""
        return format_trace_id(self.trace.trace_id)

    @property
    def span_id(self) -> str:
        """The span id as 16 lowercase hex digits."""
        return format_span_id(self.sid)

    @property
    def parent_span_id(self) -> str | None:
        """The parent's span id, ``None`` for a root span."""
        return format_span_id(self.parent_sid) if self.parent_sid else None

    def update(self, **fields: Any) -> None:
        """Set span fields: input, output, metadata, tags, model, provider, messages, usage,
        cost, documents, query, tool_name, tool_arguments, level, status, status_message."""
        try:
            self._apply(fields)
        except Exception as exc:
            log_once("update", "haloscope: span update ignored (%s: %s)", type(exc).__name__, exc)

    def _apply(self, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key in _PLAIN_FIELDS:
                if self.attrs is None:
                    self.attrs = {}
                self.attrs[key] = value
            elif key == "input":
                self.input = value
            elif key == "output":
                self.output = value
            elif key == "metadata":
                if isinstance(value, Mapping):
                    self.metadata = {**(self.metadata or {}), **value}
                else:
                    log_once("metadata-type", "haloscope: metadata must be a mapping, ignored")
            elif key == "tags":
                self.tags = _merge_tags(self.tags, value or ())
            elif key in ("level", "status"):
                self._set_level(key, value)
            else:
                log_once(f"field:{key}", "haloscope: unknown span field %r ignored", key)

    def _set_level(self, key: str, value: Any) -> None:
        level = str(value).lower()
        if level == "error":
            self.status = "error"
        elif key == "status" and level == "ok":
            self.status = "ok"
        elif key == "level" and level in _LEVELS:
            self.metadata = {**(self.metadata or {}), "level": level}
        else:
            log_once(f"{key}-value", "haloscope: invalid %s %r ignored", key, value)

    def set_output(self, value: Any) -> None:
        """Record the span's output."""
        self.output = value

    def record_exception(self, exc: BaseException) -> None:
        """Mark the span as failed with ``"Type: message"``."""
        self.status = "error"
        try:
            message = f"{type(exc).__name__}: {exc}"
        except Exception:
            message = type(exc).__name__
        if self.attrs is None:
            self.attrs = {}
        self.attrs["status_message"] = message

    def end(self) -> None:
        """Close the span (once) and hand it to the exporter."""
        if self.end_time:
            return
        self.end_time = _clock()
        if self._sink is not None:
            self._sink(self)

    def __repr__(self) -> str:
        return f"<Span {self.name!r} kind={self.kind} trace={self.trace_id} id={self.span_id}>"
