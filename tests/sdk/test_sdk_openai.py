"""OpenAI instrumentation with the real ``openai`` client against a loopback server."""

from __future__ import annotations

import asyncio

import haloscope.sdk as sdk
import openai
import pytest
from haloscope.sdk import observe
from haloscope.sdk.integrations.openai import wrap_openai
from haloscope.sdk.pricing import compute_cost

from tests.sdk.openai_server import PROMPT_TOKENS, OpenAICompatibleServer

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello there"}]


@pytest.fixture
def llm_server():
    server = OpenAICompatibleServer()
    yield server
    server.close()


def sync_client(server: OpenAICompatibleServer) -> openai.OpenAI:
    return wrap_openai(openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0))


def async_client(server: OpenAICompatibleServer) -> openai.AsyncOpenAI:
    return wrap_openai(openai.AsyncOpenAI(api_key="k", base_url=server.base_url, max_retries=0))


def expected_usage(completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": completion_tokens,
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


def test_chat_completion_is_an_llm_span_with_usage_and_cost(client, ingest_server, llm_server):
    llm = sync_client(llm_server)

    @observe
    def handler() -> str:
        reply = llm.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.2)
        return reply.choices[0].message.content

    assert handler() == "echo: hello there"
    sdk.flush(5)
    spans = ingest_server.by_name()
    recorded = spans["openai.chat.completions.create"]
    assert recorded["parent_span_id"] == spans["handler"]["span_id"]
    assert recorded["kind"] == "llm" and recorded["provider"] == "127.0.0.1"
    assert recorded["model"] == OpenAICompatibleServer.response_model
    assert recorded["messages"] == MESSAGES
    assert recorded["output"] == {"role": "assistant", "content": "echo: hello there"}
    assert recorded["usage"] == expected_usage(3)
    assert recorded["cost"] == pytest.approx(compute_cost("gpt-4o-mini", expected_usage(3)))
    assert recorded["metadata"]["model_parameters"] == {"temperature": 0.2}
    assert recorded["end_time"] > recorded["start_time"]


def test_streaming_with_final_usage_chunk(client, ingest_server, llm_server):
    llm = sync_client(llm_server)
    stream = llm.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: hello there"
    sdk.flush(5)
    recorded = ingest_server.by_name()["openai.chat.completions.create"]
    assert recorded["output"] == {"role": "assistant", "content": "echo: hello there"}
    assert recorded["usage"] == expected_usage(3)
    assert recorded["metadata"]["time_to_first_token_ms"] >= 0


def test_stream_closed_early_ends_the_span_without_usage(client, ingest_server, llm_server):
    llm = sync_client(llm_server)
    with llm.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True) as stream:
        first = next(iter(stream))
    assert first.choices[0].delta.content == "echo:"
    sdk.flush(5)
    recorded = ingest_server.by_name()["openai.chat.completions.create"]
    assert recorded["output"]["content"] == "echo:"
    assert "usage" not in recorded and recorded["status"] == "ok"


def test_async_client_plain_and_streaming(client, ingest_server, llm_server):
    llm = async_client(llm_server)

    async def run() -> str:
        reply = await llm.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        stream = await llm.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        parts = [c.choices[0].delta.content or "" async for c in stream if c.choices]
        return reply.choices[0].message.content + "|" + "".join(parts)

    assert asyncio.run(run()) == "echo: hello there|echo: hello there"
    sdk.flush(5)
    spans = [s for s in ingest_server.spans if s["name"] == "openai.chat.completions.create"]
    assert len(spans) == 2
    for recorded in spans:
        assert recorded["output"]["content"] == "echo: hello there"
        assert recorded["usage"] == expected_usage(3)


@pytest.mark.parametrize(
    ("model", "error"),
    [("fail-500", openai.InternalServerError), ("fail-400", openai.BadRequestError)],
)
def test_api_errors_are_recorded_and_reraised(client, ingest_server, llm_server, model, error):
    llm = sync_client(llm_server)
    with pytest.raises(error) as caught:
        llm.chat.completions.create(model=model, messages=MESSAGES)
    sdk.flush(5)
    recorded = ingest_server.by_name()["openai.chat.completions.create"]
    assert recorded["status"] == "error"
    assert recorded["status_message"].startswith(type(caught.value).__name__ + ": ")
    assert "scripted failure" in recorded["status_message"]
    assert recorded["model"] == model


def test_wrapping_twice_traces_once(client, ingest_server, llm_server):
    llm = wrap_openai(sync_client(llm_server))
    llm.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    sdk.flush(5)
    assert len(ingest_server.spans) == 1


def test_importing_the_sdk_does_not_import_openai():
    import subprocess
    import sys

    code = "import sys, haloscope.sdk; print('openai' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
