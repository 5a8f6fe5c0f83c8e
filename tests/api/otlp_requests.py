"""Hypothesis strategies for OTLP export requests built with the official messages: every
field of a span (the ones the mapping reads and the ones it skips), attribute values of every
kind, valid and invalid ids and times, over the keys the mapping routes and others."""

from __future__ import annotations

from haloscope.platform.ingest import otlp_mapping
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

T0 = 1_700_000_000_000_000_000
# Keys the mapping reads (every column source), keys it collects by index, and others.
KEYS = sorted(otlp_mapping._SLOTS) + [
    "gen_ai.operation.name",
    "retrieval.documents.0.document.id",
    "retrieval.documents.1.document.content",
    "llm.input_messages.0.message.role",
    "llm.input_messages.0.message.contents.1.message_content.image.image.url",
    "llm.output_messages.0.message.content",
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
    "llm.output_messages.0.message.tool_calls.x.tool_call.id",
    "gen_ai.prompt.0.content",
    "gen_ai.completion.1.tool_calls.0.arguments",
    "gen_ai.system_instructions",
    "embedding.embeddings.0.embedding.text",
    "embedding.embeddings.0.embedding.vector",
    "reranker.output_documents.0.document.id",
    "reranker.input_documents.0.document.content",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "langfuse.observation.input",
    "langfuse.observation.usage_details",
    "langfuse.observation.cost_details",
    "langfuse.observation.level",
    "langfuse.observation.status_message",
    "langfuse.observation.model.parameters",
    "langfuse.observation.metadata.k",
    "langfuse.trace.metadata.k",
    "langfuse.trace.tags",
    "langfuse.trace.name",
    "app.tier",
    "é",
    "",
]
EVENT_NAMES = [
    "exception",
    "gen_ai.user.message",
    "gen_ai.choice",
    "gen_ai.client.inference.operation.details",
    "other",
]
# Derandomized, so CI runs the same examples every time.
AGREEMENT = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)

_TEXT = st.characters(blacklist_categories=("Cs",))  # protobuf strings hold no surrogates
_SCALARS = st.one_of(
    st.text(_TEXT, max_size=40).map(lambda s: AnyValue(string_value=s)),
    st.text(_TEXT, min_size=120, max_size=600).map(lambda s: AnyValue(string_value=s)),
    st.integers(-(2**63), 2**63 - 1).map(lambda n: AnyValue(int_value=n)),
    st.floats().map(lambda x: AnyValue(double_value=x)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.binary(max_size=8).map(lambda b: AnyValue(bytes_value=b)),
    st.sampled_from(
        [
            "0",
            "12",
            '{"a": 1}',
            "[1, 2]",
            "LLM",
            "chat",
            "application/json",
            "generation",
            "ERROR",
            "warning",
            '{"input": 3, "output": 2, "total": 5}',
            '{"total": 0.5}',
            '{"args": [], "kwargs": {"q": 1}}',
            '[{"role": "user", "parts": [{"type": "text", "content": "x"}]}]',
            '[{"role": "assistant", "parts": [{"type": "tool_call", "name": "f"}]}]',
        ]
    ).map(lambda s: AnyValue(string_value=s)),
    st.just(AnyValue()),
)
VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda vs: AnyValue(array_value=ArrayValue(values=vs))),
        st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), inner), max_size=3).map(
            lambda kvs: AnyValue(
                kvlist_value=KeyValueList(values=[KeyValue(key=k, value=v) for k, v in kvs])
            )
        ),
    ),
    max_leaves=6,
)
ATTRIBUTES = st.lists(
    st.tuples(st.sampled_from(KEYS), VALUES).map(lambda kv: KeyValue(key=kv[0], value=kv[1])),
    max_size=12,
)


@st.composite
def spans(draw: st.DrawFn) -> Span:
    """A span with any of its fields set, valid or not."""
    start = draw(st.sampled_from([0, T0, T0 + 1_000_000, 2**64 - 1]))
    delta = draw(st.sampled_from([0, 800_000, -1]))
    span = Span(
        trace_id=draw(st.sampled_from([b"\x01" * 16, b"\x00" * 16, b"\x01" * 15, b""])),
        span_id=draw(st.sampled_from([b"\x02" * 8, b"\x03" * 8, b"\x00" * 8, b"\x02"])),
        parent_span_id=draw(st.sampled_from([b"", b"\x04" * 8, b"\x04"])),
        name=draw(st.sampled_from(["chat", "", "é" * 700])),
        start_time_unix_nano=start,
        end_time_unix_nano=min(2**64 - 1, max(0, start + delta)),
        attributes=draw(ATTRIBUTES),
        status=Status(
            code=draw(st.sampled_from([0, 1, 2])), message=draw(st.sampled_from(["", "boom"]))
        ),
        # Fields the mapping skips.
        kind=draw(st.sampled_from([0, Span.SPAN_KIND_CLIENT])),
        trace_state=draw(st.sampled_from(["", "a=b"])),
        flags=draw(st.sampled_from([0, 257])),
        dropped_attributes_count=draw(st.sampled_from([0, 3])),
    )
    for _ in range(draw(st.integers(0, 2))):
        span.events.add(
            name=draw(st.sampled_from(EVENT_NAMES)),
            time_unix_nano=draw(st.sampled_from([0, T0])),
            attributes=draw(ATTRIBUTES),
        )
    if draw(st.booleans()):
        span.links.add(trace_id=b"\x05" * 16, span_id=b"\x06" * 8, attributes=draw(ATTRIBUTES))
    return span


@st.composite
def requests(draw: st.DrawFn) -> ExportTraceServiceRequest:
    """An export request of one or two resources, each with a scope of up to three spans."""
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 2))):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(draw(ATTRIBUTES))
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = draw(st.sampled_from(["", "lib"]))
        scope_spans.spans.extend(draw(st.lists(spans(), max_size=3)))
    return request
