"""The annotation queue API over real HTTP: creation and its validation, the reviewer's next
item without the judge's verdict, labels (validated, idempotent, revealing the verdict), skips,
items and progress, the dataset export, deletion, and isolation between projects."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from haloscope.platform.annotation import queues

from tests.scores.stored_traces import store_trace
from tests.support.api_fixtures import LiveApi, ProjectKeys

REASON = "The answer says 30 days; the passage agrees."
GOOD = {"correct": True, "tone": "polite"}
FILTER = {"kind": "filter"}


def client_of(live_api: LiveApi, keys: ProjectKeys) -> httpx.Client:
    return httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60)


@pytest.fixture
def keys(live_api: LiveApi) -> ProjectKeys:
    return live_api.new_project()


@pytest.fixture
def client(live_api: LiveApi, keys: ProjectKeys) -> Iterator[httpx.Client]:
    """A project with two stored traces (the second newer), a judge score on the first and
    the score configs ``correct`` (boolean) and ``tone`` (categorical)."""
    with client_of(live_api, keys) as http:
        for config in (
            {"name": "correct", "value_type": "boolean"},
            {"name": "tone", "value_type": "categorical", "categories": ["polite", "rude"]},
        ):
            assert http.post("/api/v1/score-configs", json=config).status_code == 201
        first = store_trace(live_api, http)
        store_trace(live_api, http)
        score = {"trace_id": first[0]["trace_id"], "name": "faithful", "value": 0.2}
        posted = http.post("/api/v1/scores", json={**score, "source": "judge", "comment": REASON})
        assert posted.status_code == 200, posted.text
        yield http


def create(client: httpx.Client, **changes: Any) -> httpx.Response:
    body = {"name": "review", "score_names": ["correct", "tone"], "source": FILTER, **changes}
    return client.post("/api/v1/annotation-queues", json=body)


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def test_a_reviewer_labels_the_next_item_and_only_then_sees_the_judge(
    client: httpx.Client,
) -> None:
    queue = ok(create(client, description="weekly"), 201)
    assert queue["progress"] == {
        "items_total": 2,
        "items_done": 0,
        "labels_by_reviewer": {},
        "skips_by_reviewer": {},
    }
    assert queue["source"]["kind"] == "filter" and queue["created_by"].startswith("key:")
    base = f"/api/v1/annotation-queues/{queue['id']}"
    nxt = ok(client.get(f"{base}/next", params={"reviewer": "ann"}))
    item = nxt["item"]
    assert item["position"] == 0 and item["span_id"] is None
    content = item["content"]
    assert content["question"] == "What is the refund window?" and content["answer"] == "30 days"
    assert content["passages"] == ["Refunds within 30 days.", "Shipping takes 5 days."]
    assert REASON not in str(nxt)  # nothing of the judge before the label

    # The newest trace comes first; the judged trace is the second item.
    ok(client.post(f"{base}/items/{item['id']}/label", json={"reviewer": "ann", "values": GOOD}))
    second = ok(client.get(f"{base}/next", params={"reviewer": "ann"}))["item"]
    assert REASON not in second["content"]["question"]
    label = {"reviewer": "ann", "values": {"correct": False, "tone": "rude"}, "comment": "wrong"}
    answer = ok(client.post(f"{base}/items/{second['id']}/label", json=label))
    assert answer["status"] == "labelled"
    assert {s["name"]: s["value"] for s in answer["scores"]} == {"correct": False, "tone": "rude"}
    assert [(j["name"], j["value"], j["comment"]) for j in answer["judge"]] == [
        ("faithful", 0.2, REASON)
    ]
    assert answer["progress"]["items_done"] == 2
    again = ok(client.post(f"{base}/items/{second['id']}/label", json=label))
    assert [s["id"] for s in again["scores"]] == [s["id"] for s in answer["scores"]]

    stored = ok(client.get("/api/v1/scores", params={"source": "annotation"}))["data"]
    assert len(stored) == 4  # two items x two scores, the repeated label counted once
    mine = [s for s in stored if s["trace_id"] == second["trace_id"]]
    assert {(s["name"], s["value"], s["author"], s["comment"]) for s in mine} == {
        ("correct", False, "ann", "wrong"),
        ("tone", "rude", "ann", "wrong"),
    }
    assert ok(client.get(f"{base}/next", params={"reviewer": "ann"}))["item"] is None
    assert ok(client.get(f"{base}/next", params={"reviewer": "bo"}))["item"] is None


def test_the_judges_verdict_comes_with_the_label(
    live_api: LiveApi, keys: ProjectKeys, client: httpx.Client
) -> None:
    queue = ok(create(client, required_labels=2), 201)
    base = f"/api/v1/annotation-queues/{queue['id']}"
    items = ok(client.get(f"{base}/items"))["data"]
    judged = items[1]
    trace = ok(client.get(f"/api/v1/traces/{judged['trace_id']}"))
    llm = next(s for s in trace["spans"] if s["kind"] == "llm")
    live_api.store.insert_scores(
        [
            {
                "project_id": keys.project_id,
                "trace_id": judged["trace_id"],
                "span_id": llm["span_id"],
                "timestamp": llm["start_time"],
                "name": "hallucination.rag",
                "evaluator_version": "2",
                "value": 0.8,
                "label": "hallucinated",
                "reason": REASON,
                "source": "sampling",
            }
        ]
    )
    skipped = ok(client.post(f"{base}/items/{items[0]['id']}/skip", json={"reviewer": "ann"}))
    assert skipped["status"] == "skipped" and "judge" not in skipped
    nxt = ok(client.get(f"{base}/next", params={"reviewer": "ann"}))
    assert nxt["item"]["id"] == judged["id"] and REASON not in str(nxt)
    answer = ok(
        client.post(f"{base}/items/{judged['id']}/label", json={"reviewer": "ann", "values": GOOD})
    )
    assert sorted(
        (j["name"], j["label"], j["reason"] or j["comment"]) for j in answer["judge"]
    ) == [
        ("faithful", "", REASON),
        ("hallucination.rag", "hallucinated", REASON),
    ]
    # Skipping an item one already labelled is refused; k = 2 keeps it open for others.
    refused = client.post(f"{base}/items/{judged['id']}/skip", json={"reviewer": "ann"})
    assert refused.status_code == 409 and "already labelled" in refused.json()["error"]
    assert ok(client.get(f"{base}/next", params={"reviewer": "bo"}))["item"]["id"] == items[0]["id"]
    listed = ok(client.get(f"{base}/items", params={"limit": 1, "offset": 1}))
    assert listed["total"] == 2 and listed["next_offset"] is None
    assert listed["data"][0]["labelled_by"] == ["ann"] and not listed["data"][0]["done"]
    first_page = ok(client.get(f"{base}/items", params={"limit": 1}))
    assert first_page["next_offset"] == 1 and first_page["data"][0]["skipped_by"] == ["ann"]
    progress = ok(client.get(base))["progress"]
    assert progress["labels_by_reviewer"] == {"ann": 1} and progress["skips_by_reviewer"] == {
        "ann": 1
    }


@pytest.mark.parametrize(
    ("changes", "status", "reason"),
    [
        ({"score_names": ["nope"]}, 400, "no score config named ['nope']"),
        ({"score_names": []}, 400, "score_names"),
        ({"score_names": ["correct", "correct"]}, 400, "distinct"),
        ({"required_labels": 0}, 400, "required_labels"),
        ({"max_items": 10_001}, 400, "max_items"),
        ({"colour": "red"}, 400, "colour"),
        ({"source": {"kind": "vibes"}}, 400, "source"),
        ({"source": {"kind": "filter", "start": "yesterday"}}, 400, "source.start"),
        ({"source": {"kind": "filter", "status": "fine"}}, 400, "source.status"),
        ({"source": {"kind": "filter", "kinds": ["nope"]}}, 400, "source.kinds"),
        ({"source": {"kind": "filter", "score_min": 1}}, 400, "need a score_name"),
        ({"source": {"kind": "filter", "release": "none"}}, 400, "has no items"),
        ({"source": {"kind": "sampling_rule", "rule": "nope"}}, 404, "sampling rule 'nope'"),
    ],
)
def test_an_invalid_queue_is_refused_with_its_reason(
    client: httpx.Client, changes: dict[str, Any], status: int, reason: str
) -> None:
    response = create(client, **changes)
    assert response.status_code == status, response.text
    assert reason in response.json()["error"]


def test_a_taken_name_is_409_and_the_size_is_capped(
    client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(create(client), 201)
    taken = create(client)
    assert taken.status_code == 409 and "already exists" in taken.json()["error"]
    monkeypatch.setattr(queues, "MAX_QUEUE_ITEMS", 1)
    big = create(client, name="big")
    assert big.status_code == 400 and "more than 1 items" in big.json()["error"], big.text
    assert ok(create(client, name="first", max_items=1), 201)["progress"]["items_total"] == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"values": GOOD}, "reviewer"),
        ({"reviewer": "", "values": GOOD}, "reviewer"),
        ({"reviewer": "ann", "values": {"correct": True}}, "missing ['tone']"),
        ({"reviewer": "ann", "values": {**GOOD, "tone": "meh"}}, "'meh' is not one of"),
        ({"reviewer": "ann", "values": {**GOOD, "correct": 1}}, "takes boolean values"),
        ({"reviewer": "ann", "values": {**GOOD, "x": 1}}, "not score configs of this queue"),
        ({"reviewer": "ann", "values": {**GOOD, "tone": None}}, "tone: value must be"),
        ({"reviewer": "ann", "values": GOOD, "comment": "x" * 10_001}, "comment"),
        ({"reviewer": "ann", "values": GOOD, "extra": 1}, "extra"),
    ],
)
def test_an_invalid_label_is_refused_with_its_reason(
    client: httpx.Client, body: dict[str, Any], reason: str
) -> None:
    queue = ok(create(client), 201)
    base = f"/api/v1/annotation-queues/{queue['id']}"
    item = ok(client.get(f"{base}/items"))["data"][0]
    response = client.post(f"{base}/items/{item['id']}/label", json=body)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert ok(client.get(base))["progress"]["labels_by_reviewer"] == {}


def test_labelled_items_become_a_dataset_version_in_one_call(client: httpx.Client) -> None:
    queue = ok(create(client), 201)
    base = f"/api/v1/annotation-queues/{queue['name']}"
    refused = client.post(f"{base}/dataset", json={"dataset": "golden"})
    assert refused.status_code == 409 and "no item" in refused.json()["error"]
    item = ok(client.get(f"{base}/next", params={"reviewer": "ann"}))["item"]
    label = {"reviewer": "ann", "values": GOOD, "comment": "clear"}
    ok(client.post(f"{base}/items/{item['id']}/label", json=label))
    version = ok(client.post(f"{base}/dataset", json={"dataset": "golden"}), 201)
    assert version["version"] == 1 and version["item_count"] == 1 and version["created"]
    repeated = ok(client.post(f"{base}/dataset", json={"dataset": "golden"}))
    assert repeated["version"] == 1 and not repeated["created"]
    bad = client.post(f"{base}/dataset", json={"dataset": "no spaces"})
    assert bad.status_code == 400 and "invalid dataset name" in bad.json()["error"]
    (stored,) = ok(client.get("/api/v1/datasets/golden/versions/latest"))["items"]
    assert (
        stored["input"] == "What is the refund window?" and stored["expected_output"] == "30 days"
    )
    assert stored["metadata"]["labels"] == GOOD
    assert stored["metadata"]["reviews"] == [
        {"reviewer": "ann", "values": GOOD, "comment": "clear"}
    ]


def test_another_projects_key_finds_no_queue_or_item(
    live_api: LiveApi, client: httpx.Client
) -> None:
    queue = ok(create(client), 201)
    base = f"/api/v1/annotation-queues/{queue['id']}"
    item = ok(client.get(f"{base}/items"))["data"][0]
    with client_of(live_api, live_api.new_project()) as intruder:
        assert intruder.get("/api/v1/annotation-queues").json()["data"] == []
        for method, path, body in (
            ("GET", base, None),
            ("GET", "/api/v1/annotation-queues/review", None),
            ("GET", f"{base}/items", None),
            ("GET", f"{base}/next?reviewer=x", None),
            ("POST", f"{base}/items/{item['id']}/label", {"reviewer": "x", "values": GOOD}),
            ("POST", f"{base}/items/{item['id']}/skip", {"reviewer": "x"}),
            ("POST", f"{base}/dataset", {"dataset": "stolen"}),
            ("DELETE", base, None),
        ):
            response = intruder.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert item["trace_id"] not in response.text
        # Its own queue does not open another queue's items either.
        for config in ({"name": "correct", "value_type": "boolean"},):
            assert intruder.post("/api/v1/score-configs", json=config).status_code == 201
        store_trace(live_api, intruder)
        own = ok(create(intruder, score_names=["correct"]), 201)
        foreign_item = f"/api/v1/annotation-queues/{own['id']}/items/{item['id']}/label"
        response = intruder.post(foreign_item, json={"reviewer": "x", "values": {"correct": True}})
        assert response.status_code == 404, response.text
    assert ok(client.get(base))["progress"]["labels_by_reviewer"] == {}


def test_deleting_a_queue_keeps_its_labels(client: httpx.Client) -> None:
    queue = ok(create(client), 201)
    base = f"/api/v1/annotation-queues/{queue['id']}"
    item = ok(client.get(f"{base}/next", params={"reviewer": "ann"}))["item"]
    ok(client.post(f"{base}/items/{item['id']}/label", json={"reviewer": "ann", "values": GOOD}))
    assert client.delete(base).status_code == 204
    assert client.get(base).status_code == 404
    assert client.delete(base).status_code == 404
    assert ok(client.get("/api/v1/annotation-queues"))["data"] == []
    assert len(ok(client.get("/api/v1/scores", params={"source": "annotation"}))["data"]) == 2
