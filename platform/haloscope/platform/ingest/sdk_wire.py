"""The SDK batch decoded by ``msgspec`` into typed structs: the fast path of ``sdk_batch``.

Types and numeric ranges are checked in C while decoding (id patterns in Python: ``msgspec``'s
pattern constraint costs more than the precompiled match), so a valid span costs far less than
``orjson.loads`` plus the hand-written checks. This path only ever *accepts*: anything it does
not accept (a failed decode, a failed check) is handed back to the reference converter in
``sdk_batch``, which decides and words the rejection, so the two paths cannot disagree on a
reason. A span accepted here yields exactly the row the reference converter would produce.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
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


decode_batch = msgspec.json.Decoder(WireBatch).decode
decode_raw_batch = msgspec.json.Decoder(RawBatch).decode
decode_span = msgspec.json.Decoder(WireSpan).decode


class NotAccepted(Exception):
    """The fast path does not accept this span; the reference converter decides."""


def wire_span_row(span: WireSpan, project_id: str, max_field_bytes: int) -> dict[str, Any]:
    """The span row of a decoded span, or ``NotAccepted`` when a check beyond the struct's
    constraints fails (or ``SpanRejected`` from the shared field checks)."""
    trace_id, span_id, parent = span.trace_id, span.span_id, span.parent_span_id
    if (
        not is_hex_trace_id(trace_id)
        or not is_hex_span_id(span_id)
        or (parent is not None and not is_hex_span_id(parent))
        or trace_id == ZERO_TRACE_ID
        or span_id == ZERO_SPAN_ID
        or span.end_time < span.start_time
    ):
        raise NotAccepted
    kind = span.kind or "span"
    status = span.status or "ok"
    if kind not in SPAN_KINDS or status not in SPAN_STATUSES:
        raise NotAccepted
    mx = max_field_bytes
    name = span.name
    row = {
        "project_id": project_id,
        "trace_id": trace_id.lower(),
        "span_id": span_id.lower(),
        "parent_span_id": "" if parent is None else parent.lower(),
        "name": name if len(name) * 4 <= mx else check_text("name", name, mx),
        "kind": kind,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": status,
        "status_message": optional_text("status_message", span.status_message, mx),
        "model": optional_text("model", span.model, mx),
        "provider": optional_text("provider", span.provider, mx),
        "session_id": optional_text("session_id", span.session_id, mx),
        "user_id": optional_text("user_id", span.user_id, mx),
        "release": optional_text("release", span.release, mx),
    }
    input_value = span.input
    if input_value is None:
        input_value = span.messages
        if input_value is not None and type(input_value) is not list:
            raise NotAccepted
    row["input"] = json_text("input", input_value, mx)
    row["output"] = json_text("output", span.output, mx)
    usage = span.usage
    if usage is None:
        row["prompt_tokens"] = row["completion_tokens"] = row["total_tokens"] = 0
    else:
        prompt = usage.prompt_tokens or 0
        completion = usage.completion_tokens or 0
        row["prompt_tokens"] = prompt
        row["completion_tokens"] = completion
        row["total_tokens"] = usage.total_tokens or prompt + completion
    row["cost"] = span.cost or 0.0
    documents = span.documents
    if documents is None:
        row["documents"] = ""
    else:
        check_documents(documents)
        row["documents"] = json_text("documents", documents, mx)
    tool = span.tool
    if tool is None:
        row["tool_name"] = row["tool_arguments"] = ""
    else:
        row["tool_name"] = optional_text("tool.name", tool.name, mx)
        row["tool_arguments"] = json_text("tool.arguments", tool.arguments, mx)
    tags = span.tags
    if tags is None:
        row["tags"] = []
    else:
        for tag in tags:
            if len(tag) * 4 > mx:
                check_text("tags", tag, mx)
        row["tags"] = tags
    metadata = span.metadata
    row["metadata"] = {} if metadata is None else metadata_map("metadata", metadata, mx)
    return row
