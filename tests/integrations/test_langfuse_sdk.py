"""The Langfuse SDK (``langfuse``) pointed at Haloscope with ``LANGFUSE_HOST`` and a Haloscope
key pair, code unchanged: its OTLP export, score ingestion and auth check are answered, and the
trace it leaves matches, field for field, the trace of the same agent written with the
Haloscope SDK (tests/integrations/support_code.py)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import httpx

from tests.integrations import harness
from tests.support.api_fixtures import LiveApi, ProjectKeys

N_SPANS = 5
# Metadata that says how a span travelled, not what it holds: the OpenTelemetry resource and
# scope of the Langfuse SDK's spans, and the server's note that it priced a span (the Haloscope
# SDK prices its own spans).
TRANSPORT_PREFIXES = ("service.", "telemetry.", "otel.scope.", "haloscope.cost_source")
# Per span and score: what differs between any two traces (ids, times).
UNCOMPARED = {"trace_id", "span_id", "parent_span_id", "start_time", "end_time", "duration_us"}


def _langfuse_env(live_api: LiveApi, keys: ProjectKeys) -> dict[str, str]:
    """What a Langfuse user sets to send to Haloscope instead."""
    return {
        "LANGFUSE_HOST": live_api.base_url,
        "LANGFUSE_PUBLIC_KEY": keys.public_key,
        "LANGFUSE_SECRET_KEY": keys.secret_key,
    }


def comparable_trace(trace: dict) -> list[dict[str, Any]]:
    """The trace's spans without ids, times and transport metadata, each with its parent's
    name, in tree order (name, then position)."""
    names = {span["span_id"]: span["name"] for span in trace["spans"]}
    spans = []
    for span in sorted(trace["spans"], key=lambda s: s["start_time"]):
        fields = {key: value for key, value in span.items() if key not in UNCOMPARED}
        fields["metadata"] = {
            key: value
            for key, value in span["metadata"].items()
            if not key.startswith(TRANSPORT_PREFIXES)
        }
        fields["parent"] = names.get(span["parent_span_id"])
        spans.append(fields)
    return spans


def stored_scores(live_api: LiveApi, keys: ProjectKeys, trace: dict, n: int) -> list[dict]:
    """The trace's scores (``n`` of them, waited for), each with its span's name."""
    names = {span["span_id"]: span["name"] for span in trace["spans"]}
    trace_id = trace["spans"][0]["trace_id"]
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth) as client:
        while True:
            scores = client.get("/api/v1/scores", params={"trace_id": trace_id}).json()["data"]
            if len(scores) >= n or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    return sorted(
        (
            {
                "name": score["name"],
                "value": score["value"],
                "value_type": score["value_type"],
                "comment": score["comment"],
                "source": score["source"],
                "span": names.get(score["span_id"]),
            }
            for score in scores
        ),
        key=lambda score: score["name"],
    )


def test_a_langfuse_trace_matches_the_haloscope_sdk_trace(live_api: LiveApi) -> None:
    langfuse_keys, haloscope_keys = live_api.new_project(), live_api.new_project()
    langfuse = harness.run_app(
        "langfuse-sdk", live_api, langfuse_keys, env=_langfuse_env(live_api, langfuse_keys)
    )
    haloscope = harness.run_app("haloscope-sdk", live_api, haloscope_keys)
    # The SDK's start-up, auth check, export and score ingestion raised no error and logged
    # none (its logger warns on every failed request).
    assert langfuse.ids["auth_check"] is True
    assert not re.search(r"error|fail|exception|traceback", langfuse.stderr, re.I), langfuse.stderr

    from_langfuse = harness.stored_trace(live_api, langfuse_keys, langfuse.ids["trace_id"], N_SPANS)
    from_haloscope = harness.stored_trace(
        live_api, haloscope_keys, haloscope.ids["trace_id"], N_SPANS
    )
    assert comparable_trace(from_langfuse) == comparable_trace(from_haloscope)

    spans = {span["name"]: span for span in comparable_trace(from_langfuse)}
    assert [span["name"] for span in comparable_trace(from_langfuse)] == [
        "support-agent",
        "retrieve",
        "generate",
        "respond",
        "generate",
    ]
    assert spans["retrieve"]["kind"] == "retrieval"
    assert spans["retrieve"]["metadata"]["level"] == "warning"
    assert spans["retrieve"]["status_message"] == "index is stale"
    generate = spans["generate"]  # the nested one, under respond
    assert (generate["kind"], generate["model"], generate["parent"]) == (
        "llm",
        "gpt-4o-mini",
        "respond",
    )
    assert generate["usage"] == {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}
    assert generate["cost"] > 0
    assert generate["metadata"]["prompt.name"] == "support"
    assert generate["metadata"]["prompt.version"] == "3"
    assert generate["metadata"]["model_parameters"] == '{"temperature":0.2}'
    for span in spans.values():  # the trace's fields, set once on the root, on every span
        assert (span["user_id"], span["session_id"], span["release"]) == (
            "user-42",
            "chat-7",
            "v1.3",
        )
        assert (span["tags"], span["metadata"]["tenant"]) == (["beta"], "acme")

    assert stored_scores(live_api, langfuse_keys, from_langfuse, 2) == stored_scores(
        live_api, haloscope_keys, from_haloscope, 2
    )
    assert stored_scores(live_api, langfuse_keys, from_langfuse, 2) == [
        {
            "name": "helpful",
            "value": True,
            "value_type": "boolean",
            "comment": "clear",
            "source": "sdk",
            "span": None,
        },
        {
            "name": "relevance",
            "value": 0.8,
            "value_type": "numeric",
            "comment": "",
            "source": "sdk",
            "span": "retrieve",
        },
    ]


def test_the_ingestion_endpoint_stores_scores_and_reports_each_event(live_api: LiveApi) -> None:
    keys = live_api.new_project()
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    at = "2026-01-02T03:04:05.123456Z"
    score = {"name": "tone", "traceId": trace_id, "observationId": span_id}
    batch = [
        {"id": "e1", "type": "score-create", "timestamp": at, "body": {**score, "id": "s1",
         "value": "friendly", "dataType": "CATEGORICAL"}},
        {"id": "e2", "type": "score-create", "timestamp": at, "body": {**score, "id": "s2",
         "name": "ok", "value": 0, "dataType": "BOOLEAN"}},
        {"id": "e3", "type": "trace-create", "timestamp": at, "body": {"id": trace_id}},
        {"id": "e4", "type": "score-create", "timestamp": at, "body": {"name": "x", "value": 1,
         "sessionId": "s"}},
        {"id": "e5", "type": "score-create", "timestamp": at, "body": {**score, "value": "high",
         "dataType": "NUMERIC"}},
        {"id": "e6", "type": "score-create", "timestamp": at, "body": {**score, "value": "yes",
         "dataType": "BOOLEAN"}},
    ]  # fmt: skip
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth) as client:
        response = client.post("/api/public/ingestion", json={"batch": batch})
        assert response.status_code == 207
        answer = response.json()
        assert answer["successes"] == [{"id": "e1", "status": 201}, {"id": "e2", "status": 201}]
        errors = {error["id"]: error for error in answer["errors"]}
        assert sorted(errors) == ["e3", "e4", "e5", "e6"]
        assert "trace-create" in errors["e3"]["message"]
        assert "traceId" in errors["e4"]["message"]
        assert "NUMERIC" in errors["e5"]["message"]
        assert "BOOLEAN" in errors["e6"]["message"]
        # Sent again (the SDK retries), the same score ids replace the stored scores.
        assert client.post("/api/public/ingestion", json={"batch": batch[:2]}).status_code == 207
        live_api.flush()
        scores = client.get("/api/v1/scores", params={"trace_id": trace_id}).json()["data"]
    assert sorted((s["name"], s["value"], s["span_id"], s["timestamp"]) for s in scores) == [
        ("ok", False, span_id, 1767323045123456),
        ("tone", "friendly", span_id, 1767323045123456),
    ]

    bad = httpx.post(
        f"{live_api.base_url}/api/public/ingestion", json={"events": []}, auth=keys.basic_auth
    )
    assert bad.status_code == 400 and "batch" in bad.json()["error"]


def test_the_projects_endpoint_names_the_keys_project(live_api: LiveApi) -> None:
    name = f"lf-{uuid.uuid4().hex[:8]}"
    keys = live_api.new_project(name)
    answer = httpx.get(f"{live_api.base_url}/api/public/projects", auth=keys.basic_auth).json()
    assert [(p["id"], p["name"]) for p in answer["data"]] == [(keys.project_id, name)]
    refused = httpx.get(f"{live_api.base_url}/api/public/projects", auth=("pk-x", "sk-x"))
    assert refused.status_code == 401
