"""The real SDK (``@observe``) exporting to the live API, read back through the query API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from haloscope import sdk

from tests.support.api_fixtures import LiveApi, ProjectKeys


@pytest.fixture
def sdk_keys(live_api: LiveApi) -> Iterator[ProjectKeys]:
    keys = live_api.new_project()
    sdk.init(
        host=live_api.base_url,
        public_key=keys.public_key,
        secret_key=keys.secret_key,
        release="3.1.0",
        flush_interval=0.05,
    )
    yield keys
    sdk.shutdown()


def test_observed_functions_arrive_as_one_tree(live_api: LiveApi, sdk_keys: ProjectKeys) -> None:
    @sdk.observe(as_type="retrieval")
    def retrieve(query: str) -> list[str]:
        sdk.update_current_span(
            documents=[{"id": "kb-7", "score": 0.75, "content": "Refunds within 30 days."}]
        )
        return ["kb-7"]

    @sdk.observe(as_type="llm")
    def generate(question: str, context: list[str]) -> str:
        sdk.update_current_span(
            model="gpt-4o-mini",
            provider="openai",
            usage={"prompt_tokens": 30, "completion_tokens": 4},
        )
        return "30 days"

    @sdk.observe(as_type="chain")
    def answer(question: str) -> tuple[str, str]:
        sdk.update_current_trace(user_id="user-5", session_id="sess-5", tags=["sdk-e2e"])
        return generate(question, retrieve(question)), sdk.get_current_trace_id()

    result, trace_id = answer("What is the refund window?")
    assert result == "30 days"
    assert sdk.flush(timeout=20)
    live_api.flush()

    with httpx.Client(base_url=live_api.base_url, auth=sdk_keys.basic_auth) as client:
        trace = client.get(f"/api/v1/traces/{trace_id}").json()
    spans = {span["name"]: span for span in trace["spans"]}
    assert set(spans) == {"answer", "retrieve", "generate"}
    root, retrieval, llm = spans["answer"], spans["retrieve"], spans["generate"]
    assert root["kind"] == "chain" and root["parent_span_id"] is None
    assert root["output"] == ["30 days", trace_id]
    assert retrieval["kind"] == "retrieval" and retrieval["parent_span_id"] == root["span_id"]
    assert retrieval["documents"] == [
        {"id": "kb-7", "score": 0.75, "content": "Refunds within 30 days."}
    ]
    assert llm["kind"] == "llm" and llm["parent_span_id"] == root["span_id"]
    assert (llm["model"], llm["provider"]) == ("gpt-4o-mini", "openai")
    assert llm["usage"]["prompt_tokens"] == 30 and llm["usage"]["completion_tokens"] == 4
    assert llm["output"] == "30 days"
    for span in trace["spans"]:
        assert (span["user_id"], span["session_id"], span["release"]) == (
            "user-5",
            "sess-5",
            "3.1.0",
        )
        assert "sdk-e2e" in span["tags"]
    assert [node["span_id"] for node in trace["tree"]] == [root["span_id"]]
    assert [child["span_id"] for child in trace["tree"][0]["children"]] == [
        retrieval["span_id"],
        llm["span_id"],
    ]


def test_sdk_scores_reach_the_trace_detail(live_api: LiveApi, sdk_keys: ProjectKeys) -> None:
    @sdk.observe(as_type="llm")
    def generate() -> tuple[str, str]:
        sdk.score("helpful", True, comment="clear answer", author="ann")
        return sdk.current_trace_id(), sdk.current_span_id()

    trace_id, span_id = generate()
    assert sdk.flush(timeout=20)
    live_api.flush()
    # Feedback arriving after the trace is stored: placed at the stored trace's start.
    sdk.score("tone", "polite", trace_id=trace_id, idempotency_key="tone-1")
    sdk.score("tone", "rude", trace_id=trace_id, idempotency_key="tone-1")
    assert sdk.flush(timeout=20)

    with httpx.Client(base_url=live_api.base_url, auth=sdk_keys.basic_auth) as client:
        trace = client.get(f"/api/v1/traces/{trace_id}").json()
    by_name = {score["name"]: score for score in trace["scores"]}
    assert len(trace["scores"]) == 2
    helpful, tone = by_name["helpful"], by_name["tone"]
    assert helpful["span_id"] == span_id and helpful["value"] is True
    assert helpful["source"] == "sdk" and helpful["comment"] == "clear answer"
    assert helpful["timestamp"] == trace["spans"][0]["start_time"]
    assert tone["span_id"] is None and tone["value"] == "rude"
