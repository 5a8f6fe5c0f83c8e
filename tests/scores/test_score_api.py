"""The score API over real HTTP: post (one or a batch, per-item 207), idempotency, the list's
filters and pagination, delete with its audit record, and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.spans import new_span_id, new_trace_id
from tests.scores.stored_traces import store_trace
from tests.support.api_fixtures import LiveApi, ProjectKeys


def scores(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/scores", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_scores_of_every_value_type_are_stored_at_their_targets_start(
    client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    root, llm = trace[0], trace[2]
    batch = [
        {"trace_id": root["trace_id"], "name": "helpful", "value": True, "author": "ann"},
        {
            "trace_id": llm["trace_id"],
            "span_id": llm["span_id"],
            "name": "accuracy",
            "value": 0.75,
            "comment": "close",
            "source": "annotation",
        },
        {"trace_id": root["trace_id"], "name": "tone", "value": "polite", "timestamp": 10**15},
    ]
    response = client.post("/api/v1/scores", json={"scores": batch})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["accepted"] == 3 and body["rejected"] == []
    assert [s["timestamp"] for s in body["scores"]] == [
        root["start_time"],
        llm["start_time"],
        10**15,
    ]
    by_name = {s["name"]: s for s in scores(client, trace_id=root["trace_id"])}
    assert by_name["helpful"]["value"] is True and by_name["helpful"]["value_type"] == "boolean"
    assert by_name["helpful"]["span_id"] is None and by_name["helpful"]["author"] == "ann"
    assert by_name["accuracy"]["value"] == 0.75 and by_name["accuracy"]["comment"] == "close"
    assert by_name["accuracy"]["span_id"] == llm["span_id"]
    assert by_name["tone"]["value"] == "polite" and by_name["tone"]["source"] == "api"
    assert {s["id"] for s in body["scores"]} == {s["id"] for s in by_name.values()}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"name": "x", "value": 1}, "trace_id is required"),
        ({"trace_id": "nothex", "name": "x", "value": 1}, "trace_id must be 32 hex"),
        ({"trace_id": "a" * 32, "span_id": "zz", "name": "x", "value": 1}, "span_id must be"),
        ({"trace_id": "a" * 32, "value": 1}, "name is required"),
        ({"trace_id": "a" * 32, "name": "x", "value": [1]}, "value must be a number"),
        ({"trace_id": "a" * 32, "name": "x"}, "value must be a number"),
        ({"trace_id": "a" * 32, "name": "x", "value": 1, "source": "robot"}, "source 'robot'"),
        ({"trace_id": "a" * 32, "name": "x", "value": 1, "colour": 1}, "unknown field"),
        ({"trace_id": "a" * 32, "name": "x", "value": 1, "timestamp": "now"}, "timestamp must"),
        ({"trace_id": "a" * 32, "name": "x", "value": 1}, "is not stored in this project"),
        ("not an object", "a score must be a JSON object"),
    ],
)
def test_each_invalid_score_is_rejected_with_its_reason_and_the_valid_ones_kept(
    client: httpx.Client, trace: list[dict[str, Any]], item: Any, reason: str
) -> None:
    good = {"trace_id": trace[0]["trace_id"], "name": "kept", "value": 1}
    response = client.post("/api/v1/scores", json={"scores": [good, item]})
    assert response.status_code == 207, response.text
    body = response.json()
    assert body["accepted"] == 1 and body["scores"][0]["index"] == 0
    assert [r["index"] for r in body["rejected"]] == [1]
    assert reason in body["rejected"][0]["reason"]
    assert [s["name"] for s in scores(client)] == ["kept"]


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'{"scores": {"a": 1}}', b'{"scores": [], "x": 1}']
)
def test_a_malformed_body_is_400(client: httpx.Client, body: bytes) -> None:
    response = client.post("/api/v1/scores", content=body)
    assert response.status_code == 400 and response.json()["error"]


def test_the_same_idempotency_key_twice_is_one_score_holding_the_last_value(
    client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    target = {"trace_id": trace[0]["trace_id"], "name": "rating", "idempotency_key": "k-1"}
    first = client.post("/api/v1/scores", json={**target, "value": 2}).json()
    second = client.post("/api/v1/scores", json={**target, "value": 4}).json()
    assert first["scores"][0]["id"] == second["scores"][0]["id"]
    stored = scores(client, name="rating")
    assert [(s["value"], s["idempotency_key"]) for s in stored] == [(4.0, "k-1")]


def test_without_a_key_an_identical_resend_counts_once_and_a_new_value_adds_one(
    client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    score = {"trace_id": trace[0]["trace_id"], "name": "thumbs", "value": True}
    for _ in range(2):
        assert client.post("/api/v1/scores", json=score).status_code == 200
    assert len(scores(client, name="thumbs")) == 1
    client.post("/api/v1/scores", json={**score, "value": False})
    assert sorted(s["value"] for s in scores(client, name="thumbs")) == [False, True]


def test_the_list_filters_and_pages(client: httpx.Client, trace: list[dict[str, Any]]) -> None:
    trace_id = trace[0]["trace_id"]
    batch = [
        {
            "trace_id": trace_id,
            "span_id": span["span_id"],
            "name": name,
            "value": value,
            "author": author,
            "source": source,
        }
        for span in trace
        for name, value, author, source in (
            ("quality", 0.2, "ann", "annotation"),
            ("quality", 0.9, "bob", "api"),
            ("relevance", 0.5, "ann", "sdk"),
        )
    ]
    assert client.post("/api/v1/scores", json={"scores": batch}).json()["accepted"] == 9
    assert len(scores(client, name="quality")) == 6
    assert len(scores(client, source="annotation,sdk")) == 6
    assert len(scores(client, author="bob")) == 3
    assert len(scores(client, span_id=trace[1]["span_id"])) == 3
    assert {s["value"] for s in scores(client, min_value=0.4, max_value=0.6)} == {0.5}
    start = trace[1]["start_time"]
    in_range = scores(client, start=str(start), end=str(start + 1))
    assert {s["span_id"] for s in in_range} == {trace[1]["span_id"]}
    seen, cursor = [], None
    while True:
        params = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/scores", params=params).json()
        seen += [s["id"] for s in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 9
    assert seen == [s["id"] for s in scores(client, limit=100)]


@pytest.mark.parametrize(
    "params",
    [
        {"source": "robot"},
        {"start": "tomorrow"},
        {"min_value": "1", "max_value": "0"},
        {"cursor": "garbage"},
        {"limit": "0"},
    ],
)
def test_bad_list_parameters_are_400(client: httpx.Client, params: dict[str, str]) -> None:
    response = client.get("/api/v1/scores", params=params)
    assert response.status_code == 400 and response.json()["error"]


def test_delete_hides_the_score_and_keeps_an_audit_record(
    client: httpx.Client, keys: ProjectKeys, trace: list[dict[str, Any]]
) -> None:
    posted = client.post(
        "/api/v1/scores", json={"trace_id": trace[0]["trace_id"], "name": "oops", "value": 1}
    ).json()
    score_id = posted["scores"][0]["id"]
    response = client.delete(f"/api/v1/scores/{score_id}")
    assert response.status_code == 200, response.text
    assert response.json()["deleted_by"] == keys.public_key
    assert scores(client, name="oops") == []
    (audit,) = scores(client, name="oops", deleted="true")
    assert audit["id"] == score_id and audit["deleted_by"] == keys.public_key
    assert audit["deleted_at"] >= audit["timestamp"]
    assert client.delete(f"/api/v1/scores/{score_id}").status_code == 404


def test_another_project_can_neither_target_read_nor_delete_the_scores(
    live_api: LiveApi, client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    trace_id = trace[0]["trace_id"]
    posted = client.post(
        "/api/v1/scores", json={"trace_id": trace_id, "name": "mine", "value": 1}
    ).json()
    score_id = posted["scores"][0]["id"]
    intruder = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=intruder.basic_auth) as other:
        refused = other.post(
            "/api/v1/scores", json={"trace_id": trace_id, "name": "theirs", "value": 0}
        )
        assert refused.status_code == 207
        assert "not stored in this project" in refused.json()["rejected"][0]["reason"]
        assert other.get("/api/v1/scores", params={"trace_id": trace_id}).json()["data"] == []
        assert other.delete(f"/api/v1/scores/{score_id}").status_code == 404
    assert [s["name"] for s in scores(client, trace_id=trace_id)] == ["mine"]


def test_a_span_of_another_trace_is_not_a_target(
    client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    item = {"trace_id": new_trace_id(), "span_id": trace[1]["span_id"], "name": "x", "value": 1}
    other_span = {**item, "trace_id": trace[0]["trace_id"], "span_id": new_span_id()}
    body = client.post("/api/v1/scores", json={"scores": [item, other_span]}).json()
    assert [r["index"] for r in body["rejected"]] == [0, 1]


def test_the_trace_detail_holds_every_score_of_the_trace_and_its_spans(
    live_api: LiveApi, keys: ProjectKeys, client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    trace_id, llm = trace[0]["trace_id"], trace[2]
    human = [
        {"trace_id": trace_id, "name": "helpful", "value": True},
        {"trace_id": trace_id, "span_id": llm["span_id"], "name": "accuracy", "value": 0.5},
    ]
    assert client.post("/api/v1/scores", json={"scores": human}).status_code == 200
    judge = {
        "project_id": keys.project_id,
        "trace_id": trace_id,
        "span_id": llm["span_id"],
        "timestamp": llm["start_time"],
        "name": "hallucination.rag",
        "evaluator_version": "2",
        "value": 0.1,
        "label": "faithful",
        "source": "judge",
    }
    live_api.store.insert_scores([judge])
    detail = client.get(f"/api/v1/traces/{trace_id}").json()
    by_name = {s["name"]: s for s in detail["scores"]}
    assert set(by_name) == {"helpful", "accuracy", "hallucination.rag"}
    assert by_name["hallucination.rag"]["label"] == "faithful"
    assert by_name["hallucination.rag"]["evaluator_version"] == "2"
    assert by_name["accuracy"]["span_id"] == llm["span_id"]
    judge_id = by_name["hallucination.rag"]["id"]
    assert client.delete(f"/api/v1/scores/{judge_id}").status_code == 200
    names = {s["name"] for s in client.get(f"/api/v1/traces/{trace_id}").json()["scores"]}
    assert names == {"helpful", "accuracy"}


def test_the_trace_list_filters_on_a_score_name_and_range(
    live_api: LiveApi, client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    other = store_trace(live_api, client)
    batch = [
        {"trace_id": trace[0]["trace_id"], "name": "csat", "value": 2},
        {"trace_id": other[0]["trace_id"], "name": "csat", "value": 5},
    ]
    assert client.post("/api/v1/scores", json={"scores": batch}).status_code == 200

    def listed(**params: Any) -> set[str]:
        response = client.get("/api/v1/traces", params=params)
        assert response.status_code == 200, response.text
        return {t["trace_id"] for t in response.json()["data"]}

    assert listed(score_name="csat") == {trace[0]["trace_id"], other[0]["trace_id"]}
    assert listed(score_name="csat", score_min=4) == {other[0]["trace_id"]}
    assert listed(score_name="nope") == set()
    assert client.get("/api/v1/traces", params={"score_min": 1}).status_code == 400
