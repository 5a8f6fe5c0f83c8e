"""Traceloop's SDK (traceloop-sdk, OpenLLMetry) with its OpenAI instrumentation, exporting to
the API as its ``api_endpoint``: workflow and task spans (``traceloop.span.kind``, entity input
and output), association properties as user and session, typed GenAI messages, costs."""

from __future__ import annotations

from tests.integrations import canned_openai as canned
from tests.integrations import harness
from tests.integrations.traced_apps import EMBEDDED, QUESTION
from tests.support.api_fixtures import LiveApi


def test_traceloop_spans(live_api: LiveApi, canned_openai: canned.CannedOpenAI) -> None:
    run, spans = harness.traced_spans("traceloop", live_api, canned_openai, 5)
    assert run.ids["answer"] == canned.ANSWER

    (workflow,) = spans["support.workflow"]
    assert (workflow["kind"], workflow["parent_span_id"]) == ("chain", None)
    # The decorator's {"args": [], "kwargs": {...}} capture of a keyword call is the kwargs.
    assert workflow["input"] == {"question": QUESTION}
    assert workflow["output"] == canned.ANSWER
    (task,) = spans["embed.task"]
    assert (task["kind"], task["parent_span_id"]) == ("chain", workflow["span_id"])
    assert (task["input"], task["output"]) == ({"texts": EMBEDDED}, len(EMBEDDED))
    for span in (workflow, task):
        assert (span["session_id"], span["user_id"]) == ("sess-17", "user-17")

    first, second = spans["openai.chat"]
    for span in (first, second):
        assert (span["kind"], span["model"], span["provider"]) == ("llm", "gpt-4o-mini", "openai")
        assert span["parent_span_id"] == workflow["span_id"]
        assert (span["session_id"], span["user_id"]) == ("sess-17", "user-17")
        harness.assert_list_priced(span, canned.PROMPT_TOKENS, canned.COMPLETION_TOKENS)
    first_input, second_input = harness.conversation(canned.GENAI_TOOL_CALL)
    assert first["input"] == first_input
    assert first["output"]["tool_calls"] == [canned.GENAI_TOOL_CALL]
    assert first["output"]["content"] is None
    assert second["input"] == second_input
    assert second["output"] == {
        "role": "assistant",
        "content": canned.ANSWER,
        "finish_reason": "stop",
    }

    (embedding,) = spans["openai.embeddings"]
    assert (embedding["kind"], embedding["parent_span_id"]) == ("embedding", task["span_id"])
    assert embedding["input"] == EMBEDDED  # recorded as user messages: their texts
    harness.assert_list_priced(embedding, canned.EMBEDDING_TOKENS, 0)
