"""OpenTelemetry spans (OTLP protobuf messages) to span rows.

Maps the OpenInference (``openinference.span.kind``, ``llm.*``, ``retrieval.documents.*``,
``tool.*``) and OpenTelemetry GenAI (``gen_ai.*``) conventions onto the span columns; every
attribute that no column takes is kept in ``metadata`` as text. docs/api.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from haloscope.platform.ingest.errors import PayloadError, SpanRejected
from haloscope.platform.ingest.results import ConvertedBatch, Rejection
from haloscope.platform.ingest.span_fields import (
    check_text,
    check_times,
    cost_usd,
    json_text,
    optional_text,
    stringify,
    token_count,
)
from haloscope.platform.store.encoding import span_row
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

OPENINFERENCE_KINDS: dict[str, str] = {
    "LLM": "llm",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "TOOL": "tool",
    "CHAIN": "chain",
    "AGENT": "agent",
    "EMBEDDING": "embedding",
    "GUARDRAIL": "span",
    "EVALUATOR": "span",
}
GENAI_OPERATION_KINDS: dict[str, str] = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
}
# GenAI event name -> message role, for prompts recorded as span events.
_PROMPT_EVENT_ROLES = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
_DETAILS_EVENT = "gen_ai.client.inference.operation.details"
_ZERO_TRACE_ID = bytes(16)
_ZERO_SPAN_ID = bytes(8)


def convert_otlp_request(
    request: ExportTraceServiceRequest, project_id: str, *, max_spans: int, max_field_bytes: int
) -> ConvertedBatch:
    """Convert every span of an export request; span indexes count across all resources."""
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if total > max_spans:
        raise PayloadError(413, f"{total} spans in one request; the limit is {max_spans}")
    batch = ConvertedBatch()
    index = 0
    for resource_spans in request.resource_spans:
        resource = attributes_dict(resource_spans.resource.attributes)
        release = resource.pop("service.version", None)
        base_metadata = {key: stringify(value) for key, value in resource.items()}
        for scope_spans in resource_spans.scope_spans:
            metadata = dict(base_metadata)
            if scope_spans.scope.name:
                metadata["otel.scope.name"] = scope_spans.scope.name
            if scope_spans.scope.version:
                metadata["otel.scope.version"] = scope_spans.scope.version
            for span in scope_spans.spans:
                try:
                    row = convert_otlp_span(span, project_id, release, metadata, max_field_bytes)
                    batch.rows.append(span_row(row))
                except SpanRejected as exc:
                    batch.rejected.append(Rejection(index, span.span_id.hex(), str(exc)))
                index += 1
    return batch


def convert_otlp_span(
    span: Span,
    project_id: str,
    resource_release: Any,
    base_metadata: Mapping[str, str],
    max_field_bytes: int,
) -> dict[str, Any]:
    """One OTLP span to a span row, raising ``SpanRejected`` with the reason."""
    if len(span.trace_id) != 16 or span.trace_id == _ZERO_TRACE_ID:
        raise SpanRejected("trace_id must be 16 bytes (32 hex characters), not all zero")
    if len(span.span_id) != 8 or span.span_id == _ZERO_SPAN_ID:
        raise SpanRejected("span_id must be 8 bytes (16 hex characters), not all zero")
    if len(span.parent_span_id) not in (0, 8):
        raise SpanRejected("parent_span_id must be empty or 8 bytes (16 hex characters)")
    if not span.name:
        raise SpanRejected("name must be a non-empty string")
    if span.end_time_unix_nano < span.start_time_unix_nano:
        raise SpanRejected("end_time is before start_time")
    start = span.start_time_unix_nano // 1000
    end = span.end_time_unix_nano // 1000
    check_times(start, end)

    mx = max_field_bytes
    attrs = attributes_dict(span.attributes)
    pop = attrs.pop
    events = [(event.name, attributes_dict(event.attributes)) for event in span.events]
    kind = _span_kind(pop("openinference.span.kind", None), attrs.get("gen_ai.operation.name"))
    status, status_message = _status(span.status, events)
    prompt_tokens = _first_int(
        pop, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"
    )
    completion_tokens = _first_int(
        pop,
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    )
    total_tokens = _first_int(pop, "llm.token_count.total", "gen_ai.usage.total_tokens")
    release = _first(pop, "service.version") or resource_release
    tool_name = _first(pop, "gen_ai.tool.name", "tool.name")
    tool_arguments = _first(pop, "gen_ai.tool.call.arguments", "tool.parameters")
    details = next((a for name, a in events if name == _DETAILS_EVENT), {})

    row = {
        "project_id": project_id,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex(),
        "name": check_text("name", span.name, mx),
        "kind": kind,
        "start_time": start,
        "end_time": end,
        "status": status,
        "status_message": optional_text("status_message", status_message, mx),
        "input": json_text("input", _input(attrs, events, details), mx),
        "output": json_text("output", _output(attrs, events, details), mx),
        "model": optional_text(
            "model",
            _first(pop, "gen_ai.request.model", "gen_ai.response.model", "llm.model_name"),
            mx,
        ),
        "provider": optional_text(
            "provider",
            _first(pop, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
            mx,
        ),
        "prompt_tokens": token_count("prompt tokens", prompt_tokens),
        "completion_tokens": token_count("completion tokens", completion_tokens),
        "total_tokens": token_count(
            "total tokens", total_tokens or (prompt_tokens or 0) + (completion_tokens or 0)
        ),
        "cost": cost_usd("cost", _first(pop, "llm.cost.total", "gen_ai.usage.cost")),
        "documents": json_text(
            "documents", _indexed(attrs, "retrieval.documents.", "document."), mx
        ),
        "tool_name": optional_text("tool name", tool_name, mx),
        "tool_arguments": json_text("tool arguments", _decoded_json(tool_arguments), mx),
        "session_id": optional_text(
            "session_id", _first(pop, "session.id", "gen_ai.conversation.id"), mx
        ),
        "user_id": optional_text("user_id", _first(pop, "user.id", "enduser.id"), mx),
        "release": optional_text("release", release, mx),
        "tags": _tags(pop("tag.tags", None), mx),
        "metadata": dict(base_metadata),
    }
    metadata = row["metadata"]
    for key, value in attrs.items():
        metadata[key] = check_text(f"attribute {key}", stringify(value), mx)
    return row


_SCALAR_VALUES = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def attributes_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP key/values as a plain dict of Python values."""
    out = {}
    for kv in attributes:
        # Scalars (nearly every attribute) are read inline: a call per attribute is measurable.
        value = kv.value
        which = value.WhichOneof("value")
        out[kv.key] = getattr(value, which) if which in _SCALAR_VALUES else any_value(value)
    return out


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a Python value (bytes as hex text)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return attributes_dict(value.kvlist_value.values)
    if which == "bytes_value":
        return value.bytes_value.hex()
    return None


def _span_kind(openinference_kind: Any, genai_operation: Any) -> str:
    if type(openinference_kind) is str:
        kind = OPENINFERENCE_KINDS.get(openinference_kind.upper())
        if kind:
            return kind
    if type(genai_operation) is str:
        return GENAI_OPERATION_KINDS.get(genai_operation, "span")
    return "span"


def _status(status: Status, events: list[tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    if status.code != Status.STATUS_CODE_ERROR:
        return "ok", ""
    if status.message:
        return "error", status.message
    for name, attributes in events:
        if name == "exception":
            kind = attributes.get("exception.type", "")
            message = attributes.get("exception.message", "")
            return "error", f"{kind}: {message}" if kind and message else str(kind or message)
    return "error", ""


def _first(pop: Any, *keys: str) -> Any:
    """Pop and return the first present, non-empty value; the other keys stay in metadata."""
    for key in keys:
        value = pop(key, None)
        if value is not None and value != "":
            return value
    return None


def _first_int(pop: Any, *keys: str) -> int | None:
    value = _first(pop, *keys)
    if type(value) is str and value.isdigit():
        return int(value)
    if type(value) is float and value.is_integer():
        return int(value)
    if value is not None and type(value) is not int:
        raise SpanRejected(f"{keys[0]} must be an integer")
    return value


def _decoded_json(value: Any) -> Any:
    """Attribute text holding JSON (messages, tool arguments) as the JSON value it encodes."""
    if type(value) is str and value[:1] in ("{", "["):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _indexed(attrs: dict[str, Any], prefix: str, entity: str) -> list[dict[str, Any]] | None:
    """Collect flattened ``<prefix>N.<entity><field>`` attributes into a list of objects.

    ``llm.input_messages.0.message.role`` becomes ``[{"role": ...}]``; deeper paths keep their
    dotted remainder as the key. The collected attributes are removed from ``attrs``.
    """
    keys = [key for key in attrs if key.startswith(prefix)]
    if not keys:
        return None
    items: dict[int, dict[str, Any]] = {}
    for key in keys:
        index_text, _, path = key[len(prefix) :].partition(".")
        if not index_text.isdigit() or not path:
            continue
        if path.startswith(entity):
            path = path[len(entity) :]
        items.setdefault(int(index_text), {})[path] = attrs.pop(key)
    return [items[i] for i in sorted(items)] or None


def _event_messages(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]] | None:
    messages = [
        {"role": _PROMPT_EVENT_ROLES[name], **attributes}
        for name, attributes in events
        if name in _PROMPT_EVENT_ROLES
    ]
    return messages or None


def _event_choices(events: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]] | None:
    choices = [
        {key: _decoded_json(value) for key, value in attributes.items()}
        for name, attributes in events
        if name == "gen_ai.choice"
    ]
    return choices or None


def _input(attrs: dict[str, Any], events: list[Any], details: dict[str, Any]) -> Any:
    """The span input, by precedence: input.value, GenAI messages, OpenInference messages,
    the legacy ``gen_ai.prompt`` attribute, then GenAI prompt events."""
    return _io_value(
        attrs,
        "input",
        ("gen_ai.input.messages", "gen_ai.prompt"),
        "llm.input_messages.",
        lambda: details.get("gen_ai.input.messages") or _event_messages(events),
    )


def _output(attrs: dict[str, Any], events: list[Any], details: dict[str, Any]) -> Any:
    """The span output, with the same precedence as ``_input``."""
    return _io_value(
        attrs,
        "output",
        ("gen_ai.output.messages", "gen_ai.completion"),
        "llm.output_messages.",
        lambda: details.get("gen_ai.output.messages") or _event_choices(events),
    )


def _io_value(
    attrs: dict[str, Any], side: str, genai_keys: tuple[str, ...], messages_prefix: str, events: Any
) -> Any:
    value = attrs.get(f"{side}.value")
    if value is not None:
        attrs.pop(f"{side}.value")
        mime = attrs.pop(f"{side}.mime_type", "")
        return _decoded_json(value) if mime == "application/json" else value
    for key in genai_keys:
        if key in attrs:
            return _decoded_json(attrs.pop(key))
    messages = _indexed(attrs, messages_prefix, "message.")
    if messages is not None:
        return messages
    return _decoded_json(events())


def _tags(value: Any, max_bytes: int) -> list[str]:
    value = _decoded_json(value)
    if value is None:
        return []
    if type(value) is str:
        return [check_text("tag.tags", value, max_bytes)]
    if type(value) is not list:
        raise SpanRejected("tag.tags must be an array of strings")
    return [check_text("tag.tags", stringify(item), max_bytes) for item in value]
