"""OpenTelemetry spans (OTLP protobuf messages) to span rows.

Maps the OpenInference (``openinference.span.kind``, ``llm.*``, ``retrieval.documents.*``,
``tool.*``) and OpenTelemetry GenAI (``gen_ai.*``) conventions onto the span columns; every
attribute that no column takes is kept in ``metadata`` as text. docs/api.md has the table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from haloscope.platform.ingest.errors import PayloadError, SpanRejected
from haloscope.platform.ingest.otlp_view import STATUS_CODE_ERROR, attribute_values
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
from haloscope.platform.store.encoding import SpanRow, datetime64_text

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
_GENAI_OPERATION = "gen_ai.operation.name"

# The attributes a column is taken from, by precedence: the first present, non-empty one is
# taken; those after it stay in metadata.
_PROMPT_TOKENS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
_COMPLETION_TOKENS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
_TOTAL_TOKENS = ("llm.token_count.total", "gen_ai.usage.total_tokens")
_MODEL = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name")
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
_COST = ("llm.cost.total", "gen_ai.usage.cost")
_TOOL_NAME = ("gen_ai.tool.name", "tool.name")
_TOOL_ARGUMENTS = ("gen_ai.tool.call.arguments", "tool.parameters")
_SESSION = ("session.id", "gen_ai.conversation.id")
_USER = ("user.id", "enduser.id")
_RELEASE = ("service.version",)


class _IoKeys:
    """Where one side (input or output) of a span is read from, by precedence."""

    def __init__(self, side: str, genai_keys: tuple[str, ...], messages_prefix: str) -> None:
        self.value = f"{side}.value"
        self.mime_type = f"{side}.mime_type"
        self.genai_keys = genai_keys
        self.messages_prefix = messages_prefix


_INPUT = _IoKeys("input", ("gen_ai.input.messages", "gen_ai.prompt"), "llm.input_messages.")
_OUTPUT = _IoKeys("output", ("gen_ai.output.messages", "gen_ai.completion"), "llm.output_messages.")
_DOCUMENTS = "retrieval.documents."


def convert_otlp_request(
    request: Any, project_id: str, *, max_spans: int, max_field_bytes: int
) -> ConvertedBatch:
    """Convert every span of an export request (a :data:`TraceRequestView`, as
    ``decode_export_request`` returns); span indexes count across all resources."""
    total = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
    if total > max_spans:
        raise PayloadError(413, f"{total} spans in one request; the limit is {max_spans}")
    batch = ConvertedBatch()
    rows, rejected = batch.rows, batch.rejected
    index = 0
    for resource_spans in request.resource_spans:
        try:
            resource = attribute_values(resource_spans.resource.attributes)
        except SpanRejected as exc:
            raise PayloadError(400, f"resource {exc}") from exc
        release = resource.pop("service.version", None)
        base_metadata = {key: stringify(resource[key]) for key in sorted(resource)}
        for scope_spans in resource_spans.scope_spans:
            metadata = dict(base_metadata)
            if scope_spans.scope.name:
                metadata["otel.scope.name"] = scope_spans.scope.name
            if scope_spans.scope.version:
                metadata["otel.scope.version"] = scope_spans.scope.version
            for span in scope_spans.spans:
                try:
                    rows.append(
                        convert_otlp_span(span, project_id, release, metadata, max_field_bytes)
                    )
                except SpanRejected as exc:
                    rejected.append(Rejection(index, span.span_id.hex(), str(exc)))
                index += 1
    return batch


def convert_otlp_span(
    span: Any,
    project_id: str,
    resource_release: Any,
    base_metadata: Mapping[str, str],
    max_field_bytes: int,
) -> SpanRow:
    """One OTLP span (of a :data:`TraceRequestView`) to a span row, raising ``SpanRejected``
    with the reason. Written for the hot path: the row tuple is built in SPAN_COLUMNS order."""
    trace_id, span_id, parent_id = span.trace_id, span.span_id, span.parent_span_id
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        raise SpanRejected("trace_id must be 16 bytes (32 hex characters), not all zero")
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        raise SpanRejected("span_id must be 8 bytes (16 hex characters), not all zero")
    if len(parent_id) not in (0, 8):
        raise SpanRejected("parent_span_id must be empty or 8 bytes (16 hex characters)")
    name = span.name
    if not name:
        raise SpanRejected("name must be a non-empty string")
    start_ns, end_ns = span.start_time_unix_nano, span.end_time_unix_nano
    if end_ns < start_ns:
        raise SpanRejected("end_time is before start_time")
    start, end = start_ns // 1000, end_ns // 1000
    check_times(start, end)

    mx = max_field_bytes
    attrs = attribute_values(span.attributes)
    events = [(event.name, attribute_values(event.attributes)) for event in span.events]
    kind = _span_kind(attrs.pop("openinference.span.kind", None), attrs.get(_GENAI_OPERATION))
    status, status_message = _status(span.status, events)
    prompt_tokens = _take_int(attrs, _PROMPT_TOKENS)
    completion_tokens = _take_int(attrs, _COMPLETION_TOKENS)
    total_tokens = _take_int(attrs, _TOTAL_TOKENS)
    model = _take(attrs, _MODEL)
    provider = _take(attrs, _PROVIDER)
    cost = _take(attrs, _COST)
    tool_name = _take(attrs, _TOOL_NAME)
    tool_arguments = _take(attrs, _TOOL_ARGUMENTS)
    session_id = _take(attrs, _SESSION)
    user_id = _take(attrs, _USER)
    release = _take(attrs, _RELEASE) or resource_release
    tags = _tags(attrs.pop("tag.tags", None), mx)
    details = _details(events) if events else {}
    input_value = _io_value(attrs, _INPUT, lambda: _event_input(events, details))
    output_value = _io_value(attrs, _OUTPUT, lambda: _event_output(events, details))
    # Last, when the columns above have taken their keys: the scan runs over what is left.
    documents = _indexed(attrs, _DOCUMENTS, "document.") if attrs else None
    metadata = dict(base_metadata)
    for key in sorted(attrs):
        value = stringify(attrs[key])
        metadata[key] = value if len(value) * 4 <= mx else check_text(f"attribute {key}", value, mx)
    return (
        project_id,
        trace_id.hex(),
        span_id.hex(),
        parent_id.hex(),
        check_text("name", name, mx),
        kind,
        datetime64_text(start),
        datetime64_text(end),
        status,
        optional_text("status_message", status_message, mx),
        json_text("input", input_value, mx),
        json_text("output", output_value, mx),
        optional_text("model", model, mx),
        optional_text("provider", provider, mx),
        token_count("prompt tokens", prompt_tokens),
        token_count("completion tokens", completion_tokens),
        token_count(
            "total tokens", total_tokens or (prompt_tokens or 0) + (completion_tokens or 0)
        ),
        cost_usd("cost", cost),
        json_text("documents", documents, mx),
        optional_text("tool name", tool_name, mx),
        json_text("tool arguments", _decoded_json(tool_arguments), mx),
        optional_text("session_id", session_id, mx),
        optional_text("user_id", user_id, mx),
        optional_text("release", release, mx),
        tags,
        metadata,
    )


def _span_kind(openinference_kind: Any, genai_operation: Any) -> str:
    if type(openinference_kind) is str:
        kind = OPENINFERENCE_KINDS.get(openinference_kind.upper())
        if kind:
            return kind
    if type(genai_operation) is str:
        return GENAI_OPERATION_KINDS.get(genai_operation, "span")
    return "span"


def _status(status: Any, events: list[tuple[str, dict[str, Any]]]) -> tuple[str, str]:
    if status.code != STATUS_CODE_ERROR:
        return "ok", ""
    if status.message:
        return "error", status.message
    for name, attributes in events:
        if name == "exception":
            kind = attributes.get("exception.type", "")
            message = attributes.get("exception.message", "")
            return "error", f"{kind}: {message}" if kind and message else str(kind or message)
    return "error", ""


def _take(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """Pop and return the first present, non-empty value; the keys after it stay in metadata."""
    for key in keys:
        if key in attrs:
            value = attrs.pop(key)
            if value is not None and value != "":
                return value
    return None


def _take_int(attrs: dict[str, Any], keys: tuple[str, ...]) -> int | None:
    value = _take(attrs, keys)
    if value is None or type(value) is int:
        return value
    if type(value) is str and value.isdigit():
        return int(value)
    if type(value) is float and value.is_integer():
        return int(value)
    raise SpanRejected(f"{keys[0]} must be an integer")


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
    dotted remainder as the key. Each object's keys are sorted (attribute maps carry no order).
    The collected attributes are removed from ``attrs``.
    """
    keys = [key for key in attrs if key.startswith(prefix)]
    if not keys:
        return None
    items: dict[int, dict[str, Any]] = {}
    for key in sorted(keys):
        index_text, _, path = key[len(prefix) :].partition(".")
        if not index_text.isdigit() or not path:
            continue
        if path.startswith(entity):
            path = path[len(entity) :]
        items.setdefault(int(index_text), {})[path] = attrs.pop(key)
    return [items[i] for i in sorted(items)] or None


def _details(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The attributes of the GenAI inference details event, if the span has one."""
    return next((attributes for name, attributes in events if name == _DETAILS_EVENT), {})


def _event_input(events: list[tuple[str, dict[str, Any]]], details: dict[str, Any]) -> Any:
    """The input recorded as events: the details event's messages, else the prompt events."""
    messages = details.get("gen_ai.input.messages")
    if messages:
        return messages
    found = [
        {"role": _PROMPT_EVENT_ROLES[name], **attributes}
        for name, attributes in events
        if name in _PROMPT_EVENT_ROLES
    ]
    return found or None


def _event_output(events: list[tuple[str, dict[str, Any]]], details: dict[str, Any]) -> Any:
    """The output recorded as events: the details event's messages, else the choice events."""
    messages = details.get("gen_ai.output.messages")
    if messages:
        return messages
    choices = [
        {key: _decoded_json(value) for key, value in attributes.items()}
        for name, attributes in events
        if name == "gen_ai.choice"
    ]
    return choices or None


def _io_value(attrs: dict[str, Any], keys: _IoKeys, from_events: Callable[[], Any]) -> Any:
    """One side of a span, by precedence: ``<side>.value`` (JSON when its mime type says so),
    GenAI messages, the legacy ``gen_ai.prompt``/``completion``, OpenInference messages, then
    events."""
    value = attrs.pop(keys.value, None)
    if value is not None:
        mime = attrs.pop(keys.mime_type, "")
        return _decoded_json(value) if mime == "application/json" else value
    for key in keys.genai_keys:
        if key in attrs:
            return _decoded_json(attrs.pop(key))
    messages = _indexed(attrs, keys.messages_prefix, "message.")
    if messages is not None:
        return messages
    return _decoded_json(from_events())


def _tags(value: Any, max_bytes: int) -> list[str]:
    value = _decoded_json(value)
    if value is None:
        return []
    if type(value) is str:
        return [check_text("tag.tags", value, max_bytes)]
    if type(value) is not list:
        raise SpanRejected("tag.tags must be an array of strings")
    return [check_text("tag.tags", stringify(item), max_bytes) for item in value]
