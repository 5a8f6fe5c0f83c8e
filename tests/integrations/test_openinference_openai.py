"""The OpenInference OpenAI instrumentor (openinference-instrumentation-openai), unchanged,
exporting OTLP/HTTP to ``/v1/traces``: chats with a tool call, the tool's answer and an
embeddings request land as typed llm and embedding spans, priced from the server's table."""

from __future__ import annotations

import orjson

from tests.integrations import canned_openai as canned
from tests.integrations import harness
from tests.integrations.traced_apps import EMBEDDED
from tests.support.api_fixtures import LiveApi


def test_openinference_openai_spans(live_api: LiveApi, canned_openai: canned.CannedOpenAI) -> None:
    _, spans = harness.traced_spans("openinference-openai", live_api, canned_openai, 4)

    (root,) = spans["support-agent"]
    assert (root["kind"], root["parent_span_id"]) == ("agent", None)
    first, second = spans["ChatCompletion"]
    (embedding,) = spans["CreateEmbeddings"]
    for span in (first, second, embedding):
        assert span["parent_span_id"] == root["span_id"]
        assert (span["session_id"], span["user_id"]) == ("sess-17", "user-17")
        assert span["release"] == "2.4.0"  # the resource's service.version
        assert span["provider"] == "openai"
        assert span["metadata"]["prompt.version"] == "v3"  # llm.prompt_template.version
        assert harness.flattened_keys(span) == []

    first_input, second_input = harness.conversation(canned.TOOL_CALL)
    assert (first["kind"], first["model"]) == ("llm", canned.MODEL)
    assert first["input"] == first_input
    assert first["output"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [canned.TOOL_CALL],
    }
    harness.assert_list_priced(first, canned.PROMPT_TOKENS, canned.COMPLETION_TOKENS)
    # The raw request stays in metadata (the messages are the span's input).
    assert orjson.loads(first["metadata"]["input.value"])["temperature"] == 0.2

    assert second["input"] == second_input
    assert second["output"] == {"role": "assistant", "content": canned.ANSWER}
    harness.assert_list_priced(second, canned.PROMPT_TOKENS, canned.COMPLETION_TOKENS)

    assert (embedding["kind"], embedding["model"]) == ("embedding", "text-embedding-3-small")
    assert embedding["input"] == EMBEDDED
    assert embedding["output"] == [canned.VECTOR, canned.VECTOR]
    harness.assert_list_priced(embedding, canned.EMBEDDING_TOKENS, 0)
