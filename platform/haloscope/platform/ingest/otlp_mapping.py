"""OpenTelemetry spans (OTLP protobuf messages) to span rows.

Maps the OpenInference (``openinference.span.kind``, ``llm.*``, ``retrieval.documents.*``,
``tool.*``) and OpenTelemetry GenAI (``gen_ai.*``) conventions onto the span columns; every
attribute that no column takes is kept in ``metadata`` as text. docs/api.md has the table.

The request bytes are decoded by the compiled fast path (``_otlp_wire``, built on install by
scripts/build_extension.py) when it is there and accepts them; otherwise, and for anything it
declines with ``FastPathDeclined`` (malformed bytes, text that is not UTF-8, rare encodings),
by the Python view (``otlp_view``). Both yield the same :class:`SpanRecord` per span, so the
rows and the rejections are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError, SpanRejected
from haloscope.platform.ingest.otlp_record import Events, SpanRecord
from haloscope.platform.ingest.otlp_view import (
    STATUS_CODE_ERROR,
    attribute_values,
    parse_view,
    span_record,
)
from haloscope.platform.ingest.results import ConvertedBatch, Rejection
from haloscope.platform.ingest.span_fields import (
    MAX_TIME_US,
    MAX_UINT32,
    check_text,
    check_times,
    cost_usd,
    json_text,
    optional_text,
    stringify,
    token_count,
)
from haloscope.platform.store.encoding import SpanRow, datetime64_text

try:
    from haloscope.platform.ingest import _otlp_wire
except ImportError:  # not compiled: the Python view decodes every request
    _otlp_wire = None
else:
    _otlp_wire.set_types(SpanRecord, FastPathDeclined)


def active_decoder() -> str:
    """Which OTLP protobuf decoder runs: ``compiled`` (the C fast path, declining to the
    Python view what it does not take) or ``python`` (the module was not built)."""
    return "python" if _otlp_wire is None else "compiled"


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

# The attributes each column is read from, by precedence: the first present, non-empty one is
# taken; every other attribute (one of these too when a better one was taken) stays in metadata.
# _ATTRIBUTE_SOURCES is in the order convert_otlp_span unpacks SpanRecord.slots.
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
_ATTRIBUTE_SOURCES: tuple[tuple[str, ...], ...] = (
    ("openinference.span.kind",),
    _PROMPT_TOKENS,
    _COMPLETION_TOKENS,
    _TOTAL_TOKENS,
    ("llm.cost.total", "gen_ai.usage.cost"),
    ("gen_ai.tool.call.arguments", "tool.parameters"),
    ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name"),
    ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    ("gen_ai.tool.name", "tool.name"),
    ("session.id", "gen_ai.conversation.id"),
    ("user.id", "enduser.id"),
    ("service.version",),
    ("tag.tags",),
    ("input.value",),
    ("input.mime_type",),
    ("gen_ai.input.messages", "gen_ai.prompt"),
    ("output.value",),
    ("output.mime_type",),
    ("gen_ai.output.messages", "gen_ai.completion"),
)
_SLOTS = {
    key: (index, rank)
    for index, keys in enumerate(_ATTRIBUTE_SOURCES)
    for rank, key in enumerate(keys)
}
_N_SLOTS = len(_ATTRIBUTE_SOURCES)
# The names of the text columns ``convert_otlp_span`` checks together, in its order.
_TEXT_COLUMNS = (
    "model",
    "provider",
    "tool name",
    "session_id",
    "user_id",
    "release",
)
_DOCUMENTS = "retrieval.documents."
# Per side of a span: its mime type attribute and its OpenInference messages prefix.
_INPUT = ("input.mime_type", "llm.input_messages.")
_OUTPUT = ("output.mime_type", "llm.output_messages.")


def convert_otlp_request(
    body: bytes, project_id: str, *, max_spans: int, max_field_bytes: int, compiled: bool = True
) -> ConvertedBatch:
    """Convert every span of an export request's protobuf bytes (see ``otlp.protobuf_body``);
    span indexes count across all resources. ``compiled=False`` skips the compiled decoder.
    ``PayloadError`` 400 for bytes that are not a valid message, 413 for too many spans."""
    resources = _decode_compiled(body) if compiled else None
    from_view = resources is None
    if from_view:
        resources = [
            (
                rs.resource.attributes,
                [(ss.scope.name, ss.scope.version, ss.spans) for ss in rs.scope_spans],
            )
            for rs in parse_view(body).resource_spans
        ]
    total = sum(len(spans) for _, scopes in resources for _, _, spans in scopes)
    if total > max_spans:
        raise PayloadError(413, f"{total} spans in one request; the limit is {max_spans}")
    batch = ConvertedBatch()
    rows, rejected = batch.rows, batch.rejected
    index = 0
    for attributes, scopes in resources:
        try:
            resource = attribute_values(attributes) if from_view else attributes
        except SpanRejected as exc:
            raise PayloadError(400, f"resource {exc}") from exc
        release = resource.pop("service.version", None)
        base_metadata = {key: stringify(resource[key]) for key in sorted(resource)}
        for scope_name, scope_version, spans in scopes:
            metadata = dict(base_metadata)
            if scope_name:
                metadata["otel.scope.name"] = scope_name
            if scope_version:
                metadata["otel.scope.version"] = scope_version
            for span in spans:  # a SpanRecord, or a span of the view
                try:
                    record = span_record(span, _SLOTS, _N_SLOTS) if from_view else span
                    rows.append(
                        convert_otlp_span(record, project_id, release, metadata, max_field_bytes)
                    )
                except SpanRejected as exc:
                    rejected.append(Rejection(index, span.span_id.hex(), str(exc)))
                index += 1
    return batch


def _decode_compiled(body: bytes) -> list[Any] | None:
    """The request's resources from the compiled decoder, each span a :class:`SpanRecord`;
    None when it is not built or declines the request."""
    if _otlp_wire is None:
        return None
    try:
        return _otlp_wire.decode(body, _SLOTS, _N_SLOTS)
    except FastPathDeclined:
        return None


def convert_otlp_span(
    record: SpanRecord,
    project_id: str,
    resource_release: Any,
    base_metadata: Mapping[str, str],
    max_field_bytes: int,
) -> SpanRow:
    """One OTLP span's :class:`SpanRecord` to a span row, raising ``SpanRejected`` with the
    reason. Written for the hot path: the row tuple is built in SPAN_COLUMNS order."""
    trace_id, span_id, parent_id = record.trace_id, record.span_id, record.parent_span_id
    name, start_ns, end_ns = record.name, record.start_time_unix_nano, record.end_time_unix_nano
    if len(trace_id) != 16 or trace_id == _ZERO_TRACE_ID:
        raise SpanRejected("trace_id must be 16 bytes (32 hex characters), not all zero")
    if len(span_id) != 8 or span_id == _ZERO_SPAN_ID:
        raise SpanRejected("span_id must be 8 bytes (16 hex characters), not all zero")
    if len(parent_id) not in (0, 8):
        raise SpanRejected("parent_span_id must be empty or 8 bytes (16 hex characters)")
    if not name:
        raise SpanRejected("name must be a non-empty string")
    if end_ns < start_ns:
        raise SpanRejected("end_time is before start_time")
    start, end = start_ns // 1000, end_ns // 1000
    if not 0 < start <= end < MAX_TIME_US:
        check_times(start, end)  # raises with the reason

    mx = max_field_bytes
    (
        kind_name,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cost,
        tool_arguments,
        *texts,
        tags,
        input_value,
        input_mime,
        input_messages,
        output_value,
        output_mime,
        output_messages,
    ) = record.slots
    rest, events = record.attributes, record.events
    kind = _span_kind(kind_name, rest.get(_GENAI_OPERATION))
    short = mx // 4  # a string of at most this many characters fits in mx bytes of UTF-8
    if record.status_code == STATUS_CODE_ERROR:
        status, status_message = _error_status(record.status_message, events)
        status_message = optional_text("status_message", status_message, mx)
    else:
        status, status_message = "ok", ""
    if texts[-1] is None:
        texts[-1] = resource_release
    for value in texts:
        if value is not None and (type(value) is not str or len(value) > short):
            for column, text in zip(_TEXT_COLUMNS, texts, strict=True):
                optional_text(column, text, mx)  # raises, naming the column
            break  # all checked: the long strings fit in mx bytes
    model, provider, tool_name, session_id, user_id, release = texts
    prompt_tokens = _tokens(prompt_tokens, "prompt tokens", _PROMPT_TOKENS[0])
    completion_tokens = _tokens(completion_tokens, "completion tokens", _COMPLETION_TOKENS[0])
    total_tokens = _tokens(total_tokens, "total tokens", _TOTAL_TOKENS[0]) or token_count(
        "total tokens", prompt_tokens + completion_tokens
    )
    details = _details(events) if events else {}
    input_value = _side(
        input_value,
        input_mime,
        input_messages,
        rest,
        _INPUT,
        (lambda: _event_input(events, details)) if events else None,
    )
    output_value = _side(
        output_value,
        output_mime,
        output_messages,
        rest,
        _OUTPUT,
        (lambda: _event_output(events, details)) if events else None,
    )
    # Last, when the columns have taken their keys: what is left is scanned.
    documents = _indexed(rest, _DOCUMENTS, "document.") if rest else None
    metadata = dict(base_metadata)
    if rest:
        for key in sorted(rest):
            value = stringify(rest[key])
            metadata[key] = (
                value if len(value) <= short else check_text(f"attribute {key}", value, mx)
            )
    return (
        project_id,
        trace_id.hex(),
        span_id.hex(),
        parent_id.hex(),
        name if len(name) <= short else check_text("name", name, mx),
        kind,
        datetime64_text(start),
        datetime64_text(end),
        status,
        status_message,
        json_text("input", input_value, mx),
        json_text("output", output_value, mx),
        model or "",
        provider or "",
        prompt_tokens,
        completion_tokens,
        total_tokens,
        0.0 if cost is None else cost_usd("cost", cost),
        "" if documents is None else json_text("documents", documents, mx),
        tool_name or "",
        ""
        if tool_arguments is None
        else json_text("tool arguments", _decoded_json(tool_arguments), mx),
        session_id or "",
        user_id or "",
        release or "",
        [] if tags is None else _tags(tags, mx),
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


def _error_status(message: str, events: Events) -> tuple[str, str]:
    """The status of a span whose status code is ERROR, with the message, or else the
    ``exception`` event's type and message."""
    if message:
        return "error", message
    for name, attributes in events:
        if name == "exception":
            kind = attributes.get("exception.type", "")
            message = attributes.get("exception.message", "")
            return "error", f"{kind}: {message}" if kind and message else str(kind or message)
    return "error", ""


def _tokens(value: Any, column: str, key: str) -> int:
    """A token count attribute as a UInt32 (0 when absent): digits text and whole floats are
    accepted; anything else rejects the span naming ``key``, an out-of-range count ``column``."""
    if type(value) is int and 0 <= value <= MAX_UINT32:
        return value
    if value is None:
        return 0
    if (type(value) is str and value.isdigit()) or (type(value) is float and value.is_integer()):
        value = int(value)
    elif type(value) is not int:
        raise SpanRejected(f"{key} must be an integer")
    return token_count(column, value)


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


def _details(events: Events) -> dict[str, Any]:
    """The attributes of the GenAI inference details event, if the span has one."""
    return next((attributes for name, attributes in events if name == _DETAILS_EVENT), {})


def _event_input(events: Events, details: dict[str, Any]) -> Any:
    """The input recorded as events: the details event's messages, else the prompt events
    (their attributes in key order: attribute maps carry none)."""
    messages = details.get("gen_ai.input.messages")
    if messages:
        return messages
    found = [
        {"role": _PROMPT_EVENT_ROLES[name], **{key: attributes[key] for key in sorted(attributes)}}
        for name, attributes in events
        if name in _PROMPT_EVENT_ROLES
    ]
    return found or None


def _event_output(events: Events, details: dict[str, Any]) -> Any:
    """The output recorded as events: the details event's messages, else the choice events
    (their attributes in key order)."""
    messages = details.get("gen_ai.output.messages")
    if messages:
        return messages
    choices = [
        {key: _decoded_json(attributes[key]) for key in sorted(attributes)}
        for name, attributes in events
        if name == "gen_ai.choice"
    ]
    return choices or None


def _side(
    value: Any,
    mime: Any,
    messages: Any,
    rest: dict[str, Any],
    keys: tuple[str, str],
    from_events: Callable[[], Any] | None,
) -> Any:
    """One side (input or output) of a span, by precedence: ``<side>.value`` (parsed when its
    mime type is JSON), GenAI messages (or the legacy prompt/completion), OpenInference
    messages, then events. A mime type with no value to apply to stays in metadata."""
    mime_key, messages_prefix = keys
    if value is not None:
        return _decoded_json(value) if mime == "application/json" else value
    if mime is not None:
        rest[mime_key] = mime
    if messages is not None:
        return _decoded_json(messages)
    if rest:
        found = _indexed(rest, messages_prefix, "message.")
        if found is not None:
            return found
    return None if from_events is None else _decoded_json(from_events())


def _tags(value: Any, max_bytes: int) -> list[str]:
    value = _decoded_json(value)
    if type(value) is str:
        return [check_text("tag.tags", value, max_bytes)]
    if type(value) is not list:
        raise SpanRejected("tag.tags must be an array of strings")
    return [check_text("tag.tags", stringify(item), max_bytes) for item in value]
