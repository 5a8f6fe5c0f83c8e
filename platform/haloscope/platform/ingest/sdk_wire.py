"""The SDK batch decoded by ``msgspec`` into typed structs: the fast path of ``sdk_batch``.

Types and numeric ranges are checked in C while decoding (id patterns in Python: ``msgspec``'s
pattern constraint costs more than the precompiled match), so a valid span costs far less than
``orjson.loads`` plus the hand-written checks. This path only ever *accepts*: anything it does
not accept (a failed decode, a failed check) it declines with ``FastPathDeclined``, handing it
back to the reference converter in ``sdk_batch``, which decides and words the rejection, so the
two paths cannot disagree on a reason. A span accepted here yields exactly the row the reference
converter would produce.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import msgspec
import orjson
from haloscope.platform.ingest.errors import FastPathDeclined, SpanRejected
from haloscope.platform.ingest.span_fields import (
    MAX_TIME_US,
    MAX_UINT32,
    SPAN_STATUSES,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    check_documents,
    check_text,
    is_hex_span_id,
    is_hex_trace_id,
    json_text,
    metadata_map,
    optional_text,
)
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.platform.store.encoding import SpanRow, datetime64_text

Micros = Annotated[int, msgspec.Meta(gt=0, lt=MAX_TIME_US)]
Tokens = Annotated[int, msgspec.Meta(ge=0, le=MAX_UINT32)]


class WireUsage(msgspec.Struct):
    """``usage``: token counts."""

    prompt_tokens: Tokens | None = None
    completion_tokens: Tokens | None = None
    total_tokens: Tokens | None = None


class WireTool(msgspec.Struct):
    """``tool``: the tool's name and arguments."""

    name: str | None = None
    arguments: Any = None


class WireSpan(msgspec.Struct):
    """One span of the wire format (docs/wire-format.md); unknown fields are ignored."""

    trace_id: str
    span_id: str
    name: Annotated[str, msgspec.Meta(min_length=1)]
    start_time: Micros
    end_time: Micros
    parent_span_id: str | None = None
    kind: str | None = None
    status: str | None = None
    status_message: str | None = None
    model: str | None = None
    provider: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    release: str | None = None
    input: Any = None
    messages: Any = None
    output: Any = None
    usage: WireUsage | None = None
    cost: Annotated[float, msgspec.Meta(ge=0)] | None = None
    documents: Any = None
    tool: WireTool | None = None
    tags: list[str] | None = None
    metadata: dict[str, Any] | None = None


class WireBatch(msgspec.Struct):
    """A whole batch whose spans all decode as :class:`WireSpan`."""

    spans: list[WireSpan]


class RawBatch(msgspec.Struct):
    """A batch with each span kept as undecoded JSON, to decode one at a time."""

    spans: list[msgspec.Raw]


_T = TypeVar("_T")


def _declining(struct: type[_T]) -> Callable[[bytes], _T]:
    """A JSON decoder into ``struct`` that declines (``FastPathDeclined``) bytes it does not
    decode: not that struct's shape or types, not JSON, not UTF-8, nested too deep for its
    recursion (the reference parser refuses those with the reason)."""
    decode = msgspec.json.Decoder(struct).decode

    def decode_or_decline(body: bytes) -> _T:
        try:
            return decode(body)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise FastPathDeclined(str(exc) or type(exc).__name__) from exc

    return decode_or_decline


decode_batch = _declining(WireBatch)
decode_raw_batch = _declining(RawBatch)
decode_span = _declining(WireSpan)


def wire_span_row(span: WireSpan, project_id: str, max_field_bytes: int) -> SpanRow:
    """The span row (``SpanRow``, SPAN_COLUMNS order) of a decoded span, or
    ``FastPathDeclined`` when a check beyond the struct's constraints or a shared field check
    fails.

    Written for the hot path: one tuple built in place, and a text field's UTF-8 size measured
    only when it has more than ``max_field_bytes // 4`` characters (fewer cannot exceed it).
    """
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    start, end = span.start_time, span.end_time
    if (
        not is_hex_trace_id(trace_id)
        or not is_hex_span_id(span_id)
        or (parent is not None and not is_hex_span_id(parent))
        or trace_id == ZERO_TRACE_ID
        or span_id == ZERO_SPAN_ID
        or end < start
    ):
        raise FastPathDeclined("an id or the times")
    kind = span.kind or "span"
    status = span.status or "ok"
    if kind not in SPAN_KINDS or status not in SPAN_STATUSES:
        raise FastPathDeclined("kind or status")
    mx = max_field_bytes
    short = mx // 4
    input_value = span.input
    if input_value is None:
        input_value = span.messages
        if input_value is not None and type(input_value) is not list:
            raise FastPathDeclined("messages")
    usage = span.usage
    if usage is None:
        prompt = completion = total = 0
    else:
        prompt = usage.prompt_tokens or 0
        completion = usage.completion_tokens or 0
        total = usage.total_tokens or prompt + completion
    try:  # the shared field checks: the reference converter words their rejections
        documents = span.documents
        if documents is not None:
            check_documents(documents)
        tool = span.tool
        tags = span.tags
        if tags is None:
            tags = []
        else:
            for tag in tags:
                if len(tag) > short:
                    check_text("tags", tag, mx)
        metadata = span.metadata
        try:
            metadata = {} if metadata is None else metadata_map("metadata", metadata, mx)
        except orjson.JSONEncodeError as exc:  # an integer past 64 bits (orjson: a float)
            raise FastPathDeclined(str(exc)) from exc
        name = span.name
        return (
            project_id,
            trace_id.lower(),
            span_id.lower(),
            "" if parent is None else parent.lower(),
            name if len(name) <= short else check_text("name", name, mx),
            kind,
            datetime64_text(start),
            datetime64_text(end),
            status,
            _text("status_message", span.status_message, short, mx),
            json_text("input", input_value, mx),
            json_text("output", span.output, mx),
            _text("model", span.model, short, mx),
            _text("provider", span.provider, short, mx),
            prompt,
            completion,
            total,
            span.cost or 0.0,
            "" if documents is None else json_text("documents", documents, mx),
            "" if tool is None else optional_text("tool.name", tool.name, mx),
            "" if tool is None else json_text("tool.arguments", tool.arguments, mx),
            _text("session_id", span.session_id, short, mx),
            _text("user_id", span.user_id, short, mx),
            _text("release", span.release, short, mx),
            tags,
            metadata,
        )
    except SpanRejected as exc:
        raise FastPathDeclined(str(exc)) from exc


def _text(field: str, value: str | None, short: int, max_bytes: int) -> str:
    """An optional text field already typed ``str`` by the decoder: ``""`` when absent."""
    if value is None:
        return ""
    return value if len(value) <= short else check_text(field, value, max_bytes)
