"""SDK batch format (docs/wire-format.md) to span rows.

Spans are decoded by ``msgspec`` into typed structs (``sdk_wire``, the fast path); any span it
declines (``FastPathDeclined``) goes through the reference converter here: hand-written
validation over ``orjson``-decoded dicts, one pass per span, exact type checks. An invalid span
is rejected with the reference converter's reason; the others are kept.
"""

from __future__ import annotations

from typing import Any

import orjson
from haloscope.platform.ingest import sdk_wire
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError, SpanRejected
from haloscope.platform.ingest.results import ConvertedBatch, Rejection
from haloscope.platform.ingest.span_fields import (
    SPAN_STATUSES,
    ZERO_SPAN_ID,
    ZERO_TRACE_ID,
    check_documents,
    check_text,
    check_times,
    cost_usd,
    is_hex_span_id,
    is_hex_trace_id,
    json_text,
    metadata_map,
    optional_text,
    string_list,
    token_count,
)
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.platform.store.encoding import span_row

# Optional plain-string fields, stored as "" when absent.
_TEXT_FIELDS = ("status_message", "model", "provider", "session_id", "user_id", "release")


def parse_sdk_batch(
    body: bytes, project_id: str, *, max_spans: int, max_field_bytes: int
) -> ConvertedBatch:
    """Decode an SDK batch body and convert its spans; ``PayloadError`` for a bad envelope.

    The ``msgspec`` fast path (``sdk_wire``) converts the spans it accepts; every span it
    declines, and any body it cannot decode, goes through the reference converter below, so
    rows and rejection reasons are those of :func:`convert_sdk_span` whichever path ran. Only
    ``FastPathDeclined`` is a decline: any other exception from the fast path propagates.
    """
    try:
        wire_spans = sdk_wire.decode_batch(body).spans
    except FastPathDeclined:
        pass  # some span is not well-typed or not UTF-8: convert span by span below
    else:
        _check_count(len(wire_spans), max_spans)
        try:
            rows = [sdk_wire.wire_span_row(s, project_id, max_field_bytes) for s in wire_spans]
        except FastPathDeclined:
            pass  # some span fails a further check: convert span by span below
        else:
            return ConvertedBatch(rows=rows)
    try:
        raw_spans = sdk_wire.decode_raw_batch(body).spans
    except FastPathDeclined:
        return parse_sdk_batch_reference(
            body, project_id, max_spans=max_spans, max_field_bytes=max_field_bytes
        )
    _check_count(len(raw_spans), max_spans)
    batch = ConvertedBatch()
    for index, raw in enumerate(raw_spans):
        try:
            wire_span = sdk_wire.decode_span(raw)
            batch.rows.append(sdk_wire.wire_span_row(wire_span, project_id, max_field_bytes))
        except FastPathDeclined:
            # The reference converter decides and words the reason.
            try:
                span = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return parse_sdk_batch_reference(
                    body, project_id, max_spans=max_spans, max_field_bytes=max_field_bytes
                )
            _convert_into(batch, index, span, project_id, max_field_bytes)
    return batch


def parse_sdk_batch_reference(
    body: bytes, project_id: str, *, max_spans: int, max_field_bytes: int
) -> ConvertedBatch:
    """:func:`parse_sdk_batch` over ``orjson``-decoded dicts and the hand-written checks only:
    the reference the fast path defers to and is tested against."""
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(400, f"request body is not valid JSON: {exc}") from exc
    if type(envelope) is not dict:
        raise PayloadError(400, "request body must be a JSON object with a 'spans' array")
    spans = envelope.get("spans")
    if type(spans) is not list:
        raise PayloadError(400, "request body has no 'spans' array")
    _check_count(len(spans), max_spans)
    batch = ConvertedBatch()
    for index, span in enumerate(spans):
        _convert_into(batch, index, span, project_id, max_field_bytes)
    return batch


def _check_count(n_spans: int, max_spans: int) -> None:
    if n_spans > max_spans:
        raise PayloadError(413, f"{n_spans} spans in one request; the limit is {max_spans}")


def _convert_into(
    batch: ConvertedBatch, index: int, span: Any, project_id: str, max_field_bytes: int
) -> None:
    try:
        batch.rows.append(span_row(convert_sdk_span(span, project_id, max_field_bytes)))
    except SpanRejected as exc:
        span_id = span.get("span_id") if type(span) is dict else None
        batch.rejected.append(Rejection(index, span_id if type(span_id) is str else "", str(exc)))


def convert_sdk_span(span: Any, project_id: str, max_field_bytes: int) -> dict[str, Any]:
    """One wire-format span to a span row, raising ``SpanRejected`` with the reason."""
    if type(span) is not dict:
        raise SpanRejected("span must be a JSON object")
    get = span.get
    trace_id = get("trace_id")
    if type(trace_id) is not str or not is_hex_trace_id(trace_id) or trace_id == ZERO_TRACE_ID:
        raise SpanRejected("trace_id must be 32 hex characters, not all zero")
    span_id = get("span_id")
    if type(span_id) is not str or not is_hex_span_id(span_id) or span_id == ZERO_SPAN_ID:
        raise SpanRejected("span_id must be 16 hex characters, not all zero")
    parent = get("parent_span_id")
    if parent is None:
        parent = ""
    elif type(parent) is not str or not is_hex_span_id(parent):
        raise SpanRejected("parent_span_id must be 16 hex characters or null")
    name = get("name")
    if type(name) is not str or not name:
        raise SpanRejected("name must be a non-empty string")
    start, end = get("start_time"), get("end_time")
    check_times(start, end)
    kind = get("kind") or "span"
    if type(kind) is not str or kind not in SPAN_KINDS:
        raise SpanRejected(f"kind must be one of {sorted(SPAN_KINDS)}")
    status = get("status") or "ok"
    if type(status) is not str or status not in SPAN_STATUSES:
        raise SpanRejected("status must be 'ok' or 'error'")

    mx = max_field_bytes
    row = {
        "project_id": project_id,
        "trace_id": trace_id.lower(),
        "span_id": span_id.lower(),
        "parent_span_id": parent.lower(),
        "name": name if len(name) * 4 <= mx else check_text("name", name, mx),
        "kind": kind,
        "start_time": start,
        "end_time": end,
        "status": status,
    }
    for key in _TEXT_FIELDS:
        value = get(key)
        if value is None:
            value = ""
        elif type(value) is not str:
            raise SpanRejected(f"{key} must be a string")
        elif len(value) * 4 > mx:
            check_text(key, value, mx)
        row[key] = value

    input_value = get("input")
    if input_value is None:
        input_value = get("messages")
        if input_value is not None and type(input_value) is not list:
            raise SpanRejected("messages must be an array")
    row["input"] = json_text("input", input_value, mx)
    row["output"] = json_text("output", get("output"), mx)

    usage = get("usage")
    if usage is None:
        row["prompt_tokens"] = row["completion_tokens"] = row["total_tokens"] = 0
    elif type(usage) is dict:
        prompt = token_count("usage.prompt_tokens", usage.get("prompt_tokens"))
        completion = token_count("usage.completion_tokens", usage.get("completion_tokens"))
        row["prompt_tokens"] = prompt
        row["completion_tokens"] = completion
        row["total_tokens"] = (
            token_count("usage.total_tokens", usage.get("total_tokens")) or prompt + completion
        )
    else:
        raise SpanRejected("usage must be an object")
    row["cost"] = cost_usd("cost", get("cost"))

    documents = get("documents")
    if documents is None:
        row["documents"] = ""
    else:
        check_documents(documents)
        row["documents"] = json_text("documents", documents, mx)

    tool = get("tool")
    if tool is None:
        row["tool_name"] = row["tool_arguments"] = ""
    elif type(tool) is dict:
        row["tool_name"] = optional_text("tool.name", tool.get("name"), mx)
        row["tool_arguments"] = json_text("tool.arguments", tool.get("arguments"), mx)
    else:
        raise SpanRejected("tool must be an object with 'name' and 'arguments'")

    tags = get("tags")
    row["tags"] = [] if tags is None else string_list("tags", tags, mx)
    metadata = get("metadata")
    row["metadata"] = {} if metadata is None else metadata_map("metadata", metadata, mx)
    return row
