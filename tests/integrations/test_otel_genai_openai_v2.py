"""The OpenTelemetry GenAI OpenAI instrumentor (opentelemetry-instrumentation-openai-v2), with
message content captured on spans (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=
SPAN_ONLY``, ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``): the
``gen_ai.input.messages`` / ``gen_ai.output.messages`` parts become typed messages."""

from __future__ import annotations

from tests.integrations import canned_openai as canned
from tests.integrations import harness
from tests.support.api_fixtures import LiveApi


def test_otel_genai_openai_v2_spans(live_api: LiveApi, canned_openai: canned.CannedOpenAI) -> None:
    _, spans = harness.traced_spans("otel-genai-openai-v2", live_api, canned_openai, 4)

    (root,) = spans["support-agent"]
    assert (root["kind"], root["parent_span_id"]) == ("agent", None)  # invoke_agent
    first, second = spans["chat gpt-4o-mini"]
    (embedding,) = spans["embeddings text-embedding-3-small"]
    for span in (first, second, embedding):
        assert span["parent_span_id"] == root["span_id"]
        assert span["provider"] == "openai"

    first_input, second_input = harness.conversation(canned.GENAI_TOOL_CALL)
    assert (first["kind"], first["model"]) == ("llm", "gpt-4o-mini")  # gen_ai.request.model
    assert first["metadata"]["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert first["input"] == first_input
    assert first["output"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [canned.GENAI_TOOL_CALL],
        "finish_reason": "tool_calls",
    }
    harness.assert_list_priced(first, canned.PROMPT_TOKENS, canned.COMPLETION_TOKENS)
    assert "gen_ai.input.messages" not in first["metadata"]

    assert second["input"] == second_input
    assert second["output"] == {
        "role": "assistant",
        "content": canned.ANSWER,
        "finish_reason": "stop",
    }
    harness.assert_list_priced(second, canned.PROMPT_TOKENS, canned.COMPLETION_TOKENS)

    assert (embedding["kind"], embedding["model"]) == ("embedding", "text-embedding-3-small")
    harness.assert_list_priced(embedding, canned.EMBEDDING_TOKENS, 0)
