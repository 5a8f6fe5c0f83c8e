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
from typing import Any, NamedTuple

import orjson
from haloscope.platform.ingest import otlp_langfuse as langfuse
from haloscope.platform.ingest.errors import FastPathDeclined, PayloadError, SpanRejected
from haloscope.platform.ingest.otlp_langfuse import TraceFields
from haloscope.platform.ingest.otlp_messages import (
    choice_message,
    decoded_json,
    event_message,
    flat_message,
    genai_messages,
    openinference_message,
    output_of,
    system_message,
    unflatten,
)
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
# traceloop.span.kind (Traceloop/OpenLLMetry decorators), uppercased like OpenInference's.
TRACELOOP_KINDS: dict[str, str] = {
    "WORKFLOW": "chain",
    "TASK": "chain",
    "AGENT": "agent",
    "TOOL": "tool",
    "UNKNOWN": "span",
}
# langfuse.observation.type, uppercased.
LANGFUSE_KINDS: dict[str, str] = {
    "GENERATION": "llm",
    "SPAN": "span",
    "EVENT": "span",
    "AGENT": "agent",
    "TOOL": "tool",
    "CHAIN": "chain",
    "RETRIEVER": "retrieval",
    "EMBEDDING": "embedding",
    "EVALUATOR": "span",
    "GUARDRAIL": "span",
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
# The kind slot takes openinference.span.kind, then traceloop.span.kind: one table for both
# (their names do not clash).
_KIND_NAMES = {**TRACELOOP_KINDS, **OPENINFERENCE_KINDS}
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
_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"

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
_INPUT_VALUE, _INPUT_MIME = "input.value", "input.mime_type"
# The metadata keys prompt names and versions are stored under (grouping by prompt reads them).
PROMPT_NAME, PROMPT_VERSION = "prompt.name", "prompt.version"
_OUTPUT_VALUE, _OUTPUT_MIME = "output.value", "output.mime_type"
_ATTRIBUTE_SOURCES: tuple[tuple[str, ...], ...] = (
    ("openinference.span.kind", "traceloop.span.kind"),
    ("langfuse.observation.type",),
    _PROMPT_TOKENS,
    _COMPLETION_TOKENS,
    _TOTAL_TOKENS,
    ("llm.cost.total", "gen_ai.usage.cost"),
    ("gen_ai.tool.call.arguments", "tool.parameters"),
    (
        "gen_ai.request.model",
        "gen_ai.response.model",
        "llm.model_name",
        "embedding.model_name",
        "reranker.model_name",
        "langfuse.observation.model.name",
    ),
    ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"),
    ("gen_ai.tool.name", "tool.name"),
    ("session.id", "gen_ai.conversation.id", "traceloop.association.properties.session_id"),
    ("user.id", "enduser.id", "traceloop.association.properties.user_id"),
    ("service.version", "langfuse.release", "langfuse.version"),
    ("tag.tags",),
    (PROMPT_NAME, "langfuse.observation.prompt.name", "traceloop.prompt.key"),
    (
        PROMPT_VERSION,
        "langfuse.observation.prompt.version",
        "llm.prompt_template.version",
        "traceloop.prompt.version",
    ),
    (_INPUT_VALUE,),
    (_INPUT_MIME,),
    ("gen_ai.input.messages", "gen_ai.prompt"),
    (_OUTPUT_VALUE,),
    (_OUTPUT_MIME,),
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
# Attributes collected by prefix (flattened lists and objects), each prefix up to its second
# dot so that ``_families`` can find a key's prefix without trying each.
_INPUT_MESSAGES, _OUTPUT_MESSAGES = "llm.input_messages.", "llm.output_messages."
_LEGACY_PROMPT, _LEGACY_COMPLETION = "gen_ai.prompt.", "gen_ai.completion."
_DOCUMENTS = "retrieval.documents."
_EMBEDDINGS = "embedding.embeddings."
_RERANKER_INPUT, _RERANKER_OUTPUT = "reranker.input_documents.", "reranker.output_documents."
_ENTITY = "traceloop.entity."
_ENTITY_INPUT, _ENTITY_OUTPUT = "traceloop.entity.input", "traceloop.entity.output"
_LANGFUSE_INPUT = langfuse.OBSERVATION + "input"
_LANGFUSE_OUTPUT = langfuse.OBSERVATION + "output"
_LANGFUSE_SIDES = (_LANGFUSE_INPUT, _LANGFUSE_OUTPUT)
_FAMILIES = (
    _INPUT_MESSAGES,
    _OUTPUT_MESSAGES,
    _LEGACY_PROMPT,
    _LEGACY_COMPLETION,
    _DOCUMENTS,
    _EMBEDDINGS,
    _RERANKER_INPUT,
    _RERANKER_OUTPUT,
    _ENTITY,
    langfuse.OBSERVATION,
    langfuse.TRACE,
)
_DOCUMENT_FAMILIES = frozenset({_DOCUMENTS, _RERANKER_INPUT, _RERANKER_OUTPUT})
Families = dict[str, dict[str, Any]]


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
    traces: dict[str, TraceFields] = {}  # Langfuse trace fields, for the trace's other spans
    resource_rows: list[tuple[int, Any]] = []  # each resource's first row and release
    index = 0
    for attributes, scopes in resources:
        try:
            resource = attribute_values(attributes) if from_view else attributes
        except SpanRejected as exc:
            raise PayloadError(400, f"resource {exc}") from exc
        release = _resource_release(resource)
        resource_rows.append((len(rows), release))
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
                        convert_otlp_span(
                            record, project_id, release, metadata, max_field_bytes, traces
                        )
                    )
                except SpanRejected as exc:
                    rejected.append(Rejection(index, span.span_id.hex(), str(exc)))
                index += 1
    if traces:
        batch.rows = langfuse.apply_trace_fields(rows, traces, resource_rows)
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
    traces: dict[str, TraceFields] | None = None,
) -> SpanRow:
    """One OTLP span's :class:`SpanRecord` to a span row, raising ``SpanRejected`` with the
    reason. Written for the hot path: the row tuple is built in SPAN_COLUMNS order. A Langfuse
    observation's trace fields are added to ``traces`` (by trace id) when it is given."""
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
        langfuse_type,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        cost,
        tool_arguments,
        *texts,
        tags,
        prompt_name,
        prompt_version,
        input_value,
        input_mime,
        input_messages,
        output_value,
        output_mime,
        output_messages,
    ) = record.slots
    rest, events = record.attributes, record.events
    kind = _span_kind(kind_name, langfuse_type, rest.get(_GENAI_OPERATION))
    # Flattened lists and objects, taken out of ``rest`` in one pass; what no column uses
    # goes back. Most spans have none (every attribute a column slot), so this is skipped.
    families = _families(rest) if rest else None
    lf = None
    if families is not None:
        lf_entries = families.pop(langfuse.OBSERVATION, {})
        lf_entries.update(families.pop(langfuse.TRACE, ()))
        if lf_entries:
            # The observation's input and output are sides' sources (see _side).
            families[langfuse.OBSERVATION] = {
                key: lf_entries.pop(key) for key in _LANGFUSE_SIDES if key in lf_entries
            }
            lf = langfuse.read_langfuse(lf_entries, rest)
    short = mx // 4  # a string of at most this many characters fits in mx bytes of UTF-8
    if record.status_code == STATUS_CODE_ERROR or (lf is not None and lf.error):
        status_message = record.status_message or (lf.status_message if lf else "") or ""
        status, status_message = _error_status(status_message, events)
        status_message = optional_text("status_message", status_message, mx)
    else:
        status = "ok"
        status_message = optional_text("status_message", lf.status_message, mx) if lf else ""
    own_release = texts[-1]
    if own_release is None:
        texts[-1] = resource_release
    for value in texts:
        if value is not None and (type(value) is not str or len(value) > short):
            for column, text in zip(_TEXT_COLUMNS, texts, strict=True):
                optional_text(column, text, mx)  # raises, naming the column
            break  # all checked: the long strings fit in mx bytes
    model, provider, tool_name, session_id, user_id, release = texts
    if lf is not None:
        if prompt_tokens is None and completion_tokens is None and total_tokens is None:
            prompt_tokens, completion_tokens = lf.prompt_tokens, lf.completion_tokens
            total_tokens = lf.total_tokens
        if cost is None:
            cost = lf.cost
    prompt_tokens = _tokens(prompt_tokens, "prompt tokens", _PROMPT_TOKENS[0])
    completion_tokens = _tokens(completion_tokens, "completion tokens", _COMPLETION_TOKENS[0])
    total_tokens = _tokens(total_tokens, "total tokens", _TOTAL_TOKENS[0]) or token_count(
        "total tokens", prompt_tokens + completion_tokens
    )
    details = _details(events) if events else _NO_DETAILS
    input_value = _side(
        _INPUT, input_value, input_mime, input_messages, rest, families, events, details
    )
    if kind == "embedding" and type(input_value) is list:
        input_value = _embedded_texts(input_value)
    output_value = _side(
        _OUTPUT, output_value, output_mime, output_messages, rest, families, events, details
    )
    documents = None
    if families is not None:
        if not _DOCUMENT_FAMILIES.isdisjoint(families):
            documents = _documents(families, rest)
        for entries in families.values():  # the collected attributes no column took
            if entries:
                rest.update(entries)
    if lf is not None:
        for key, value in lf.metadata.items():
            rest.setdefault(key, value)
        for key, value in lf.trace_metadata.items():
            rest.setdefault(key, value)
    if prompt_name is not None:
        rest[PROMPT_NAME] = prompt_name
    if prompt_version is not None:
        rest[PROMPT_VERSION] = prompt_version
    metadata = dict(base_metadata)
    if rest:
        for key in sorted(rest):
            value = stringify(rest[key])
            metadata[key] = (
                value if len(value) <= short else check_text(f"attribute {key}", value, mx)
            )
    tags = [] if tags is None else _tags(tags, mx)
    trace_tags: list[str] | tuple[()] = ()
    if lf is not None and lf.trace_tags is not None:
        trace_tags = _tags(lf.trace_tags, mx, langfuse.TRACE_TAGS)
        tags.extend(tag for tag in trace_tags if tag not in tags)
    if langfuse_type is not None and traces is not None:
        traces.setdefault(trace_id.hex(), TraceFields()).add(
            user_id or "",
            session_id or "",
            own_release or "",
            trace_tags,
            lf.trace_metadata if lf is not None else {},
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
        else json_text("tool arguments", decoded_json(tool_arguments), mx),
        session_id or "",
        user_id or "",
        release or "",
        tags,
        metadata,
    )


_NO_DETAILS: dict[str, Any] = {}


def _resource_release(resource: dict[str, Any]) -> Any:
    """The release a resource gives its spans: ``service.version``, else ``langfuse.release``
    (taken out of the resource's attributes; an empty or worse one stays)."""
    for key in ("service.version", "langfuse.release"):
        value = resource.get(key)
        if value is not None and value != "":
            return resource.pop(key)
    return None


def _span_kind(kind_name: Any, langfuse_type: Any, genai_operation: Any) -> str:
    if type(kind_name) is str:
        kind = _KIND_NAMES.get(kind_name.upper())
        if kind:
            return kind
    if type(langfuse_type) is str:
        kind = LANGFUSE_KINDS.get(langfuse_type.upper())
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
    if (type(value) is str and value.isascii() and value.isdigit()) or (
        type(value) is float and value.is_integer()
    ):
        value = int(value)
    elif type(value) is not int:
        raise SpanRejected(f"{key} must be an integer")
    return token_count(column, value)


def _families(rest: dict[str, Any]) -> Families | None:
    """The attributes of ``rest`` under a prefix of ``_FAMILIES``, taken out and grouped by
    prefix; None when there are none."""
    matched = [key for key in rest if key.startswith(_FAMILIES)]
    if not matched:
        return None
    families: Families = {}
    for key in matched:
        prefix = key[: key.find(".", key.find(".") + 1) + 1]  # every prefix has two dots
        group = families.get(prefix)
        if group is None:
            group = families[prefix] = {}
        group[key] = rest.pop(key)
    return families


def _collected(families: Families, prefix: str) -> list[Any] | None:
    """The items of the flattened list under ``prefix`` (see ``unflatten``), taking its
    attributes; the ones that fit no item stay in ``families``. None when it has none."""
    entries = families.get(prefix)
    if not entries:
        return None
    items, unused = unflatten(entries, prefix)
    if unused:
        families[prefix] = {key: entries[key] for key in unused}
    else:
        del families[prefix]
    return items or None


def _entity_value(families: Families, rest: dict[str, Any], key: str, family: str) -> Any:
    """A Traceloop entity or Langfuse observation input/output (JSON text, or plain text),
    taken out of ``families``; a decorator's ``{"args": [], "kwargs": {...}}`` capture of a
    call without positional arguments is its keyword arguments (what the Haloscope SDK's
    ``@observe`` records). None when the span has none."""
    entries = families.get(family)
    if not entries or key not in entries:
        return None
    value = entries.pop(key)
    if value is None or value == "":
        rest[key] = value
        return None
    if type(value) is str and value[:1] in _JSON_STARTS:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if type(value) is dict and value.keys() == _CALL_KEYS and value["args"] == []:
        kwargs = value["kwargs"]
        if type(kwargs) is dict:
            return kwargs
    return value


_JSON_STARTS = frozenset('{["-0123456789tf')
_CALL_KEYS = frozenset({"args", "kwargs"})


class _Side(NamedTuple):
    """Where one side (input or output) of a span is read from, after its GenAI messages."""

    value_key: str  # input.value
    mime_key: str  # input.mime_type
    openinference: str  # llm.input_messages.
    legacy: str  # gen_ai.prompt.
    embedding_field: str  # embedding.embeddings.N.embedding.<text>
    from_events: Callable[[Events, dict[str, Any]], Any]
    entity_keys: tuple[tuple[str, str], ...]  # (key, its family) of the entity values
    instructions: str | None  # the attribute holding the system message (input only)
    one_message: bool  # one message alone is the side itself (output)


def _side(
    side: _Side,
    value: Any,
    mime: Any,
    messages: Any,
    rest: dict[str, Any],
    families: Families | None,
    events: Events,
    details: dict[str, Any],
) -> Any:
    """One side of a span, by precedence: its chat messages (GenAI ``gen_ai.input.messages``
    with ``gen_ai.system_instructions`` first, OpenInference ``llm.input_messages``, the older
    ``gen_ai.prompt.N``, GenAI events) or embedded texts (vectors for the output), then
    ``<side>.value`` (parsed when its mime type is JSON), then a Traceloop entity or Langfuse
    observation value. An output of one message is the message (as the Haloscope SDK stores
    it). What a better source displaced, and a mime type with no value, stay in metadata."""
    if messages is None and families is None and not events:  # the common case: a value
        if value is not None:
            return decoded_json(value) if mime == "application/json" else value
        if mime is not None:
            rest[side.mime_key] = mime
        return None
    found = None
    if messages is not None:
        found = genai_messages(messages)
        instructions = rest.pop(side.instructions, None) if rest and side.instructions else None
        if instructions is not None and type(found) is list:
            found.insert(0, system_message(instructions))
        elif instructions is not None:
            rest[side.instructions] = instructions
    elif families is not None:
        found = _family_messages(families, side.openinference, side.legacy)
        if found is None:
            found = _embeddings(families, side.embedding_field)
    if found is None and events:
        found = side.from_events(events, details)
    if found is not None and side.one_message:
        found = output_of(found)
    value_key, mime_key, entity_keys = side.value_key, side.mime_key, side.entity_keys
    if found is None and value is not None:
        return decoded_json(value) if mime == "application/json" else value
    if value is not None:
        rest[value_key] = value
    if mime is not None:
        rest[mime_key] = mime
    if families is not None:
        for key, family in entity_keys:
            if family not in families:
                continue
            entity = _entity_value(families, rest, key, family)
            if entity is None:
                continue
            if found is None:
                found = entity
            else:
                rest[key] = entity if type(entity) is str else stringify(entity)
    return None if found is None else decoded_json(found)


def _family_messages(families: Families, openinference: str, legacy: str) -> Any:
    """The OpenInference messages (``llm.input_messages.N``), else the older GenAI ones
    (``gen_ai.prompt.N``) of a span, as SDK messages; None when it has neither."""
    items = _collected(families, openinference)
    if items is not None:
        return [openinference_message(item) for item in items]
    items = _collected(families, legacy)
    if items is not None:
        return [flat_message(item) for item in items]
    return None


def _embeddings(families: Families, field: str) -> list[Any] | None:
    """The ``text`` (input) or ``vector`` (output) of each OpenInference embedding
    (``embedding.embeddings.N.embedding.*``), when every embedding has one and nothing else."""
    entries = families.get(_EMBEDDINGS)
    if not entries:
        return None
    items, unused = unflatten(entries, _EMBEDDINGS)
    if unused or not items or not all(type(i) is dict and field in i for i in items):
        return None
    if not all(i.keys() <= _EMBEDDING_FIELDS for i in items):
        return None
    suffix = f".{field}"
    families[_EMBEDDINGS] = {key: v for key, v in entries.items() if not key.endswith(suffix)}
    return [item[field] for item in items]


_EMBEDDING_FIELDS = frozenset({"text", "vector"})


def _embedded_texts(messages: list[Any]) -> list[Any]:
    """An embedding span's input recorded as user messages of text (as the Traceloop
    instrumentation records it) as the texts themselves, like OpenInference's."""
    for message in messages:
        if not (
            type(message) is dict
            and len(message) == 2
            and message.get("role") == "user"
            and type(message.get("content")) is str
        ):
            return messages
    return [message["content"] for message in messages]


def _documents(families: Families, rest: dict[str, Any]) -> list[Any] | None:
    """Retrieved documents (``retrieval.documents.N.document.*``), else a reranker's output
    documents, as ``[{id, score, content, ...}]``; a reranker's input documents go to metadata
    as one JSON list under ``reranker.input_documents``."""
    documents = _collected(families, _DOCUMENTS)
    if documents is None:
        documents = _collected(families, _RERANKER_OUTPUT)
    inputs = _collected(families, _RERANKER_INPUT)
    if inputs is not None:
        rest[_RERANKER_INPUT[:-1]] = [_document(item) for item in inputs]
    return None if documents is None else [_document(item) for item in documents]


def _document(item: Any) -> Any:
    """A document with its ``metadata`` (JSON text in OpenInference) as an object."""
    if type(item) is dict and "metadata" in item:
        return {**item, "metadata": decoded_json(item["metadata"])}
    return item


def _details(events: Events) -> dict[str, Any]:
    """The attributes of the GenAI inference details event, if the span has one."""
    return next((attributes for name, attributes in events if name == _DETAILS_EVENT), {})


def _event_input(events: Events, details: dict[str, Any]) -> Any:
    """The input recorded as events: the details event's messages, else the prompt events
    (their attributes in key order: attribute maps carry none)."""
    messages = details.get("gen_ai.input.messages")
    if messages:
        return genai_messages(messages)
    found = [
        event_message(_PROMPT_EVENT_ROLES[name], attributes)
        for name, attributes in events
        if name in _PROMPT_EVENT_ROLES
    ]
    return found or None


def _event_output(events: Events, details: dict[str, Any]) -> Any:
    """The output recorded as events: the details event's messages, else the choice events
    (the message each carries)."""
    messages = details.get("gen_ai.output.messages")
    if messages:
        return genai_messages(messages)
    choices = [choice_message(attributes) for name, attributes in events if name == "gen_ai.choice"]
    return choices or None


_INPUT = _Side(
    _INPUT_VALUE,
    _INPUT_MIME,
    _INPUT_MESSAGES,
    _LEGACY_PROMPT,
    "text",
    _event_input,
    ((_ENTITY_INPUT, _ENTITY), (_LANGFUSE_INPUT, langfuse.OBSERVATION)),
    _SYSTEM_INSTRUCTIONS,
    False,
)
_OUTPUT = _Side(
    _OUTPUT_VALUE,
    _OUTPUT_MIME,
    _OUTPUT_MESSAGES,
    _LEGACY_COMPLETION,
    "vector",
    _event_output,
    ((_ENTITY_OUTPUT, _ENTITY), (_LANGFUSE_OUTPUT, langfuse.OBSERVATION)),
    None,
    True,
)


def _tags(value: Any, max_bytes: int, key: str = "tag.tags") -> list[str]:
    value = decoded_json(value)
    if type(value) is str:
        return [check_text(key, value, max_bytes)]
    if type(value) is not list:
        raise SpanRejected(f"{key} must be an array of strings")
    return [check_text(key, stringify(item), max_bytes) for item in value]
