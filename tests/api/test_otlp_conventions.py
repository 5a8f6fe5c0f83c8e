"""The instrumentors' conventions mapped onto span columns, case by case: OpenInference
messages (tool calls, multimodal parts), GenAI message parts and the older indexed prompt and
completion, events, embeddings, rerankers, Traceloop entities and the Langfuse SDK's
attributes. Every case is converted by both OTLP decoders, which must agree."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from haloscope.platform.ingest import otlp_messages
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

T0 = 1_700_000_000_000_000_000
TRACE = b"\x01" * 16


def _value(value: Any) -> AnyValue:
    if type(value) is bool:
        return AnyValue(bool_value=value)
    if type(value) is int:
        return AnyValue(int_value=value)
    if type(value) is float:
        return AnyValue(double_value=value)
    if type(value) in (list, tuple):
        return AnyValue(array_value=ArrayValue(values=[_value(item) for item in value]))
    return AnyValue(string_value=value)


def _span(
    attributes: dict[str, Any],
    *,
    span_id: bytes = b"\x02" * 8,
    trace_id: bytes = TRACE,
    events: list[tuple[str, dict[str, Any]]] = (),
    status: int = 0,
) -> Span:
    span = Span(trace_id=trace_id, span_id=span_id, name="s")
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 5_000
    span.attributes.extend(KeyValue(key=k, value=_value(v)) for k, v in attributes.items())
    for name, event_attributes in events:
        span.events.add(
            name=name,
            attributes=[KeyValue(key=k, value=_value(v)) for k, v in event_attributes.items()],
        )
    span.status.code = status
    return span


def rows(*spans: Span, resource: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The rows of a request holding ``spans``, the same from both decoders."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        KeyValue(key=k, value=_value(v)) for k, v in (resource or {}).items()
    )
    resource_spans.scope_spans.add().spans.extend(spans)
    body = request.SerializeToString()
    compiled = convert_otlp_request(body, "p", max_spans=100, max_field_bytes=100_000)
    python = convert_otlp_request(body, "p", max_spans=100, max_field_bytes=100_000, compiled=False)
    assert (compiled.rows, compiled.rejected) == (python.rows, python.rejected)
    assert compiled.rejected == []
    return [
        {
            **row,
            "input": orjson.loads(row["input"]) if row["input"] else None,
            "output": orjson.loads(row["output"]) if row["output"] else None,
            "documents": orjson.loads(row["documents"]) if row["documents"] else None,
        }
        for row in compiled.row_dicts()
    ]


def row(attributes: dict[str, Any], **options: Any) -> dict[str, Any]:
    (only,) = rows(_span(attributes, **options))
    return only


def test_openinference_messages_are_preferred_to_the_raw_request() -> None:
    request = json.dumps({"model": "gpt-4o-mini", "messages": ["..."]})
    converted = row(
        {
            "openinference.span.kind": "LLM",
            "input.value": request,
            "input.mime_type": "application/json",
            "output.value": "raw response",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.contents.0.message_content.type": "text",
            "llm.input_messages.0.message.contents.0.message_content.text": "What is this?",
            "llm.input_messages.0.message.contents.1.message_content.type": "image",
            "llm.input_messages.0.message.contents.1.message_content.image.image.url": "u.png",
            "llm.input_messages.1.message.role": "assistant",
            "llm.input_messages.1.message.tool_calls.0.tool_call.id": "c1",
            "llm.input_messages.1.message.tool_calls.0.tool_call.function.name": "look",
            "llm.input_messages.1.message.tool_calls.0.tool_call.function.arguments": "{}",
            "llm.input_messages.2.message.role": "tool",
            "llm.input_messages.2.message.content": "found",
            "llm.input_messages.2.message.tool_call_id": "c1",
            "llm.input_messages.10.message.role": "user",  # indexes sort as numbers
            "llm.input_messages.10.message.content": "thanks",
            "llm.input_messages.x.message.role": "stray",  # no index: stays in metadata
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "A photo.",
        }
    )
    assert converted["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "u.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "name": "look", "arguments": "{}"}],
        },
        {"role": "tool", "content": "found", "tool_call_id": "c1"},
        {"role": "user", "content": "thanks"},
    ]
    assert converted["output"] == {"role": "assistant", "content": "A photo."}
    metadata = converted["metadata"]
    assert metadata["input.value"] == request
    assert metadata["input.mime_type"] == "application/json"
    assert metadata["output.value"] == "raw response"
    assert metadata["llm.input_messages.x.message.role"] == "stray"
    assert not [key for key in metadata if key.startswith("llm.") and ".x." not in key]


def test_genai_message_parts_and_system_instructions() -> None:
    converted = row(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
            "gen_ai.input.messages": json.dumps(
                [
                    {
                        "role": "user",
                        "parts": [
                            {"type": "text", "content": "Hi "},
                            {"type": "text", "content": "there"},
                        ],
                    },
                    {
                        "role": "assistant",
                        "parts": [
                            {"type": "tool_call", "id": "c1", "name": "f", "arguments": {"a": 1}}
                        ],
                    },
                    {
                        "role": "tool",
                        "parts": [{"type": "tool_call_response", "id": "c1", "response": 42}],
                    },
                    {
                        "role": "user",
                        "parts": [
                            {"type": "text", "content": "and"},
                            {"type": "uri", "uri": "a.png", "modality": "image"},
                        ],
                    },
                ]
            ),
            "gen_ai.output.messages": json.dumps(
                [
                    {"role": "assistant", "parts": [{"type": "text", "content": "one"}]},
                    {"role": "assistant", "parts": [{"type": "text", "content": "two"}]},
                ]
            ),
            "input.value": "displaced",
        }
    )
    assert converted["kind"] == "llm"
    assert converted["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi there"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "name": "f", "arguments": {"a": 1}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": 42},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and"},
                {"type": "uri", "uri": "a.png", "modality": "image"},
            ],
        },
    ]
    # Two choices stay a list; one would be the message itself.
    assert converted["output"] == [
        {"role": "assistant", "content": "one"},
        {"role": "assistant", "content": "two"},
    ]
    assert converted["metadata"]["input.value"] == "displaced"
    assert "gen_ai.system_instructions" not in converted["metadata"]


def test_the_older_indexed_genai_prompt_and_completion() -> None:
    converted = row(
        {
            "gen_ai.prompt.0.role": "user",
            "gen_ai.prompt.0.content": "Where is A17?",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.finish_reason": "tool_calls",
            "gen_ai.completion.0.tool_calls.0.id": "c1",
            "gen_ai.completion.0.tool_calls.0.name": "lookup",
            "gen_ai.completion.0.tool_calls.0.arguments": '{"id": "A17"}',
        }
    )
    assert converted["input"] == [{"role": "user", "content": "Where is A17?"}]
    assert converted["output"] == {
        "role": "assistant",
        "content": None,
        "finish_reason": "tool_calls",
        "tool_calls": [{"arguments": '{"id": "A17"}', "id": "c1", "name": "lookup"}],
    }
    assert not [key for key in converted["metadata"] if key.startswith("gen_ai.")]


def test_choice_and_message_events() -> None:
    converted = row(
        {"gen_ai.operation.name": "chat"},
        events=[
            ("gen_ai.system.message", {"content": "Be brief."}),
            ("gen_ai.user.message", {"content": "Hi"}),
            (
                "gen_ai.choice",
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": json.dumps({"role": "assistant", "content": "Hello"}),
                },
            ),
        ],
    )
    assert converted["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]
    assert converted["output"] == {"role": "assistant", "content": "Hello", "finish_reason": "stop"}


def test_embeddings_rerankers_and_document_metadata() -> None:
    embedding = row(
        {
            "openinference.span.kind": "EMBEDDING",
            "embedding.model_name": "text-embedding-3-small",
            "embedding.embeddings.0.embedding.text": "a",
            "embedding.embeddings.0.embedding.vector": [0.5, 0.25],
            "embedding.embeddings.1.embedding.text": "b",
            "embedding.embeddings.1.embedding.vector": [1.0, 0.0],
            "input.value": '{"input": ["a", "b"]}',
        }
    )
    assert (embedding["kind"], embedding["model"]) == ("embedding", "text-embedding-3-small")
    assert embedding["input"] == ["a", "b"]
    assert embedding["output"] == [[0.5, 0.25], [1.0, 0.0]]
    assert embedding["metadata"]["input.value"] == '{"input": ["a", "b"]}'

    reranker = row(
        {
            "openinference.span.kind": "RERANKER",
            "reranker.model_name": "rerank-v3",
            "reranker.query": "q",
            "reranker.input_documents.0.document.id": "d1",
            "reranker.input_documents.1.document.id": "d2",
            "reranker.output_documents.0.document.id": "d2",
            "reranker.output_documents.0.document.score": 0.9,
            "reranker.output_documents.0.document.metadata": '{"source": "kb"}',
        }
    )
    assert (reranker["kind"], reranker["model"]) == ("retrieval", "rerank-v3")
    assert reranker["documents"] == [{"id": "d2", "metadata": {"source": "kb"}, "score": 0.9}]
    assert orjson.loads(reranker["metadata"]["reranker.input_documents"]) == [
        {"id": "d1"},
        {"id": "d2"},
    ]
    assert reranker["metadata"]["reranker.query"] == "q"


def test_traceloop_entities_and_prompts() -> None:
    workflow, task = rows(
        _span(
            {
                "traceloop.span.kind": "workflow",
                "traceloop.entity.input": '{"args": [], "kwargs": {"question": "Q"}}',
                "traceloop.entity.output": '"A"',
                "traceloop.association.properties.user_id": "u",
                "traceloop.association.properties.session_id": "s",
                "traceloop.prompt.key": "support",
                "traceloop.prompt.version": 4,
            }
        ),
        _span(
            {
                "traceloop.span.kind": "task",
                "traceloop.entity.input": '{"args": ["Q"], "kwargs": {}}',
                "traceloop.entity.output": "plain text",
            },
            span_id=b"\x03" * 8,
        ),
    )
    assert (workflow["kind"], workflow["input"], workflow["output"]) == (
        "chain",
        {"question": "Q"},
        "A",
    )
    assert (workflow["user_id"], workflow["session_id"]) == ("u", "s")
    assert (workflow["metadata"]["prompt.name"], workflow["metadata"]["prompt.version"]) == (
        "support",
        "4",
    )
    # Positional arguments have no names: the capture stays as sent.
    assert task["input"] == {"args": ["Q"], "kwargs": {}}
    assert task["output"] == "plain text"


def test_openinference_prompt_template_version() -> None:
    converted = row({"llm.prompt_template.version": "v3", "prompt.name": "support"})
    assert converted["metadata"]["prompt.version"] == "v3"
    assert converted["metadata"]["prompt.name"] == "support"
    assert "llm.prompt_template.version" not in converted["metadata"]


LANGFUSE_GENERATION = {
    "langfuse.observation.type": "generation",
    "langfuse.observation.model.name": "gpt-4o-mini",
    "langfuse.observation.input": '[{"role": "user", "content": "Hi"}]',
    "langfuse.observation.output": '{"role": "assistant", "content": "Hello"}',
    "langfuse.observation.usage_details": json.dumps(
        {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
         "prompt_tokens_details": {"cached_tokens": 60}}
    ),
    "langfuse.observation.cost_details": '{"input": 0.25, "output": 0.5}',
    "langfuse.observation.model.parameters": '{"temperature": 0.2}',
    "langfuse.observation.level": "WARNING",
    "langfuse.observation.status_message": "slow",
    "langfuse.observation.prompt.name": "support",
    "langfuse.observation.prompt.version": 3,
    "langfuse.observation.metadata.step": "plan",
    "langfuse.observation.metadata.attempt": 2,
    "langfuse.environment": "production",
}  # fmt: skip


def test_langfuse_observation_attributes() -> None:
    converted = row(LANGFUSE_GENERATION)
    assert (converted["kind"], converted["model"], converted["status"]) == (
        "llm",
        "gpt-4o-mini",
        "ok",
    )
    assert converted["input"] == [{"role": "user", "content": "Hi"}]
    assert converted["output"] == {"role": "assistant", "content": "Hello"}
    assert (converted["prompt_tokens"], converted["completion_tokens"]) == (100, 20)
    assert (converted["total_tokens"], converted["cost"]) == (120, 0.75)
    assert converted["status_message"] == "slow"
    assert converted["metadata"] == {
        "attempt": "2",
        "cached_prompt_tokens": "60",
        "langfuse.environment": "production",
        "level": "warning",
        "model_parameters": '{"temperature":0.2}',
        "prompt.name": "support",
        "prompt.version": "3",
        "step": "plan",
        "usage_details.prompt_tokens_details": '{"cached_tokens":60}',
    }


@pytest.mark.parametrize("status", [0, 2])
def test_a_langfuse_error_level_fails_the_span(status: int) -> None:
    converted = row(
        {
            "langfuse.observation.type": "span",
            "langfuse.observation.level": "ERROR",
            "langfuse.observation.status_message": "boom",
        },
        status=status,
    )
    assert (converted["kind"], converted["status"], converted["status_message"]) == (
        "span",
        "error",
        "boom",
    )
    assert "level" not in converted["metadata"]


def test_unreadable_langfuse_values_stay_in_metadata() -> None:
    attributes = {
        "langfuse.observation.type": "generation",
        "langfuse.observation.usage_details": '{"input": -3}',
        "langfuse.observation.cost_details": "cheap",
        "langfuse.observation.level": "LOUD",
    }
    converted = row(attributes)
    assert (converted["prompt_tokens"], converted["cost"], converted["status"]) == (0, 0.0, "ok")
    for key in list(attributes)[1:]:
        assert converted["metadata"][key] == attributes[key]


def test_langfuse_trace_attributes_reach_the_other_spans_of_their_trace() -> None:
    root = _span(
        {
            "langfuse.observation.type": "span",
            "user.id": "u-1",
            "session.id": "s-1",
            "langfuse.version": "v2",
            "langfuse.trace.tags": ["beta"],
            "langfuse.trace.metadata.tenant": "acme",
            "langfuse.trace.name": "support",
        }
    )
    child = _span(
        {"langfuse.observation.type": "generation", "tag.tags": ["own"], "user.id": "u-own"},
        span_id=b"\x03" * 8,
    )
    instrumented = _span({"gen_ai.operation.name": "chat"}, span_id=b"\x04" * 8)
    other_trace = _span({"gen_ai.operation.name": "chat"}, trace_id=b"\x05" * 16)
    converted = rows(root, child, instrumented, other_trace, resource={"langfuse.release": "r9"})
    root_row, child_row, instrumented_row, other_row = converted
    assert root_row["metadata"]["tenant"] == "acme"
    assert root_row["metadata"]["langfuse.trace.name"] == "support"
    assert (root_row["release"], root_row["tags"]) == ("v2", ["beta"])
    assert (child_row["user_id"], child_row["session_id"]) == ("u-own", "s-1")
    # The trace's version comes before the client's release (the resource's); a span's own
    # tags are its own.
    assert (child_row["tags"], child_row["release"]) == (["own", "beta"], "v2")
    assert child_row["metadata"]["tenant"] == "acme"
    assert (instrumented_row["user_id"], instrumented_row["tags"]) == ("u-1", ["beta"])
    # Another trace keeps its own fields; the resource's release applies to every span.
    assert (other_row["user_id"], other_row["tags"], other_row["release"]) == ("", [], "r9")
    assert "tenant" not in other_row["metadata"]
    assert "langfuse.release" not in other_row["metadata"]


_SEGMENTS = ["0", "1", "2", "10", "01", "message", "document", "role", "content", "5", "x"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    st.dictionaries(
        st.lists(st.sampled_from(_SEGMENTS), min_size=2, max_size=3).map(
            lambda parts: "p." + ".".join(parts)
        ),
        st.integers(),
        min_size=1,
        max_size=5,
    )
)
def test_the_flat_shortcut_rebuilds_what_the_tree_does(entries: dict[str, int]) -> None:
    """``unflatten``'s shortcut for flat keys gives the items (and key order) of the tree."""
    fast = otlp_messages._flat_items(entries, sorted(entries), len("p."))
    if fast is None:
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(otlp_messages, "_flat_items", lambda *_: None)
        tree, unused = otlp_messages.unflatten(entries, "p.")
    assert unused == []
    assert [list(item.items()) for item in fast] == [list(item.items()) for item in tree]
