"""End to end over real HTTP: httpx -> uvicorn on 127.0.0.1 -> chDB -> the query API."""

from __future__ import annotations

import gzip
from typing import Any

import httpx
import orjson
import pytest
from haloscope.platform.auth.api_keys import revoke_api_key

from tests.api.spans import new_span_id, new_trace_id, rag_trace
from tests.api.store_queries import stored_span_count
from tests.support.api_fixtures import LiveApi, ProjectKeys


@pytest.fixture
def keys(live_api: LiveApi) -> ProjectKeys:
    return live_api.new_project()


@pytest.fixture
def client(live_api: LiveApi) -> httpx.Client:
    with httpx.Client(base_url=live_api.base_url, timeout=60) as http:
        yield http


def _post_batch(client: httpx.Client, keys: ProjectKeys, spans: list[Any]) -> httpx.Response:
    body = gzip.compress(orjson.dumps({"sdk": {"name": "tests"}, "spans": spans}))
    return client.post(
        "/api/v1/ingest",
        content=body,
        auth=keys.basic_auth,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


def _expected_view(span: dict[str, Any]) -> dict[str, Any]:
    """What the query API must return for a span sent in the wire format."""
    usage = span.get("usage", {})
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {
        "trace_id": span["trace_id"],
        "span_id": span["span_id"],
        "parent_span_id": span.get("parent_span_id"),
        "name": span["name"],
        "kind": span.get("kind", "span"),
        "start_time": span["start_time"],
        "end_time": span["end_time"],
        "duration_us": span["end_time"] - span["start_time"],
        "status": span.get("status", "ok"),
        "status_message": span.get("status_message", ""),
        "input": span.get("input", span.get("messages")),
        "output": span.get("output"),
        "model": span.get("model", ""),
        "provider": span.get("provider", ""),
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": usage.get("total_tokens", prompt + completion),
        },
        "cost": span.get("cost", 0.0),
        "documents": span.get("documents"),
        "tool": span.get("tool"),
        "session_id": span.get("session_id", ""),
        "user_id": span.get("user_id", ""),
        "release": span.get("release", ""),
        "tags": span.get("tags", []),
        "metadata": {
            k: v if isinstance(v, str) else orjson.dumps(v).decode()
            for k, v in span.get("metadata", {}).items()
        },
    }


def test_sdk_batch_round_trips_field_for_field(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    spans = rag_trace()
    spans.append(
        {
            "trace_id": spans[0]["trace_id"],
            "span_id": new_span_id(),
            "parent_span_id": spans[2]["span_id"],
            "name": "lookup_order",
            "kind": "tool",
            "start_time": spans[2]["start_time"] + 5,
            "end_time": spans[2]["start_time"] + 9,
            "tool": {"name": "lookup_order", "arguments": {"order_id": "A17", "verbose": True}},
            "output": None,
        }
    )
    response = _post_batch(client, keys, spans)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 4, "rejected": []}
    live_api.flush()

    trace = client.get(f"/api/v1/traces/{spans[0]['trace_id']}", auth=keys.basic_auth).json()
    got = {s["span_id"]: s for s in trace["spans"]}
    assert got == {s["span_id"]: _expected_view(s) for s in spans}
    root, retrieve, llm, tool = (s["span_id"] for s in spans)
    assert trace["tree"] == [
        {
            "span_id": root,
            "children": [
                {"span_id": retrieve, "children": []},
                {"span_id": llm, "children": [{"span_id": tool, "children": []}]},
            ],
        }
    ]


def test_trace_list_filters_pagination_and_metrics(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    traces = [rag_trace() for _ in range(3)]
    traces[1][0]["session_id"] = "sess-other"
    for spans in traces:
        assert _post_batch(client, keys, spans).status_code == 200
    live_api.flush()

    def ids(**params: Any) -> list[str]:
        page = client.get("/api/v1/traces", params=params, auth=keys.basic_auth)
        assert page.status_code == 200, page.text
        return [item["trace_id"] for item in page.json()["data"]]

    all_ids = {spans[0]["trace_id"] for spans in traces}
    assert set(ids()) == all_ids
    assert ids(session_id="sess-other") == [traces[1][0]["trace_id"]]
    assert set(ids(kind="llm", model="gpt-4o-mini", status="error")) == all_ids
    assert ids(kind="retrieval", model="gpt-4o-mini") == []  # both must hold on one span
    assert ids(q="no such text anywhere") == []
    assert set(ids(tag=["prod", "rag"])) == all_ids
    first = client.get("/api/v1/traces", params={"limit": 2}, auth=keys.basic_auth).json()
    second = client.get(
        "/api/v1/traces", params={"limit": 2, "cursor": first["next_cursor"]}, auth=keys.basic_auth
    ).json()
    assert second["next_cursor"] is None
    assert {i["trace_id"] for i in first["data"] + second["data"]} == all_ids

    metrics = client.get(
        "/api/v1/metrics", params={"group_by": "model"}, auth=keys.basic_auth
    ).json()
    by_model = {row["model"]: row for row in metrics["data"]}
    assert by_model["gpt-4o-mini"]["count"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"start": "yesterday"},
        {"kind": "database"},
        {"status": "broken"},
        {"sort": "name_asc"},
        {"cursor": "not-a-cursor"},
        {"start": "2025-02-01T00:00:00Z", "end": "2025-01-01T00:00:00Z"},
    ],
)
def test_bad_query_params_are_400_with_reason(
    client: httpx.Client, keys: ProjectKeys, params: dict[str, Any]
) -> None:
    response = client.get("/api/v1/traces", params=params, auth=keys.basic_auth)
    assert response.status_code == 400
    assert response.json()["error"]


def test_bad_metrics_group_is_400(client: httpx.Client, keys: ProjectKeys) -> None:
    response = client.get("/api/v1/metrics", params={"group_by": "user"}, auth=keys.basic_auth)
    assert response.status_code == 400 and "group_by" in response.json()["error"]


def test_a_key_never_reaches_another_project(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    other = live_api.new_project()
    spans = rag_trace()
    assert _post_batch(client, keys, spans).status_code == 200
    live_api.flush()
    trace_id = spans[0]["trace_id"]
    assert client.get(f"/api/v1/traces/{trace_id}", auth=keys.basic_auth).status_code == 200
    assert client.get(f"/api/v1/traces/{trace_id}", auth=other.basic_auth).status_code == 404
    listed = client.get("/api/v1/traces", auth=other.basic_auth).json()
    assert listed["data"] == []
    assert stored_span_count(live_api.store, other.project_id) == 0
    assert stored_span_count(live_api.store, keys.project_id) == 3


def test_authentication_failures_are_401_with_reason(
    client: httpx.Client, keys: ProjectKeys
) -> None:
    body = orjson.dumps({"spans": rag_trace()})
    missing = client.post("/api/v1/ingest", content=body)
    assert missing.status_code == 401
    assert "Authorization" in missing.json()["error"]
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    wrong = client.post("/api/v1/ingest", content=body, auth=(keys.public_key, "sk-wrong"))
    assert wrong.status_code == 401 and wrong.json()["error"]
    garbled = client.get("/api/v1/traces", headers={"Authorization": "Bearer nonsense"})
    assert garbled.status_code == 401 and garbled.json()["error"]
    assert client.get("/api/v1/traces", headers=keys.bearer_header).status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b'{"spans": 3}', {}, 400),
        (b"\x1f\x8b garbage", {"Content-Encoding": "gzip"}, 400),
        (gzip.compress(b" " * 11 * 1024 * 1024), {"Content-Encoding": "gzip"}, 413),
        (b" " * (10 * 1024 * 1024 + 1), {}, 413),
    ],
    ids=["malformed-json", "spans-not-array", "gzip-garbage", "gzip-bomb", "too-large"],
)
def test_bad_bodies_are_refused_with_reason(
    live_api: LiveApi,
    client: httpx.Client,
    keys: ProjectKeys,
    body: bytes,
    headers: dict[str, str],
    status: int,
) -> None:
    response = client.post("/api/v1/ingest", content=body, headers=headers, auth=keys.basic_auth)
    assert response.status_code == status
    assert response.json()["error"]
    assert live_api.writer.has_room()


def test_too_many_spans_is_413(live_api: LiveApi, client: httpx.Client, keys: ProjectKeys) -> None:
    span = rag_trace()[1]
    limit = live_api.app.state.haloscope.settings.max_spans_per_request
    response = _post_batch(client, keys, [span] * (limit + 1))
    assert response.status_code == 413 and str(limit) in response.json()["error"]


def test_mixed_batch_stores_valid_spans_and_lists_each_rejection(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    spans = rag_trace()
    bad_kind = {**rag_trace()[0], "kind": "database"}
    bad_time = {**rag_trace()[0], "end_time": 5}
    response = _post_batch(client, keys, [spans[0], bad_kind, spans[1], bad_time, spans[2], 7])
    assert response.status_code == 207
    result = response.json()
    assert result["accepted"] == 3
    assert [(r["index"], r["span_id"]) for r in result["rejected"]] == [
        (1, bad_kind["span_id"]),
        (3, bad_time["span_id"]),
        (5, ""),
    ]
    assert "kind" in result["rejected"][0]["reason"]
    assert "end_time" in result["rejected"][1]["reason"]
    live_api.flush()
    trace = client.get(f"/api/v1/traces/{spans[0]['trace_id']}", auth=keys.basic_auth).json()
    assert {s["span_id"] for s in trace["spans"]} == {s["span_id"] for s in spans}


def test_duplicate_resend_is_counted_once(
    live_api: LiveApi, client: httpx.Client, keys: ProjectKeys
) -> None:
    spans = rag_trace()
    for _ in range(3):
        assert _post_batch(client, keys, spans).status_code == 200
        live_api.flush()
    assert stored_span_count(live_api.store, keys.project_id) == 3
    listed = client.get("/api/v1/traces", auth=keys.basic_auth).json()["data"]
    assert [item["span_count"] for item in listed] == [3]


def test_health_reports_store_and_writer(live_api: LiveApi, client: httpx.Client) -> None:
    health = client.get("/api/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok"
    assert body["writer"]["queued_rows"] >= 0 and "flushed_rows" in body["writer"]
    assert body["otlp_decoder"] == "compiled"  # make install builds it on this machine


def test_unknown_trace_is_404(client: httpx.Client, keys: ProjectKeys) -> None:
    response = client.get(f"/api/v1/traces/{new_trace_id()}", auth=keys.basic_auth)
    assert response.status_code == 404 and "not found" in response.json()["error"]


def test_revoked_key_is_401(live_api: LiveApi, client: httpx.Client, keys: ProjectKeys) -> None:
    assert client.get("/api/v1/traces", auth=keys.basic_auth).status_code == 200
    with live_api.sessionmaker() as session:
        assert revoke_api_key(session, keys.project_id, keys.key_id)
        session.commit()
    response = client.get("/api/v1/traces", auth=keys.basic_auth)
    assert response.status_code == 401 and response.json()["error"]
