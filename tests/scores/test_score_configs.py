"""Score configs over real HTTP: CRUD with validation, and scores refused per item when they
break their name's config."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.api_fixtures import LiveApi


def test_configs_are_created_read_changed_and_deleted(client: httpx.Client) -> None:
    body = {"name": "rating", "value_type": "numeric", "min_value": 1, "max_value": 5}
    created = client.post("/api/v1/score-configs", json=body)
    assert created.status_code == 201, created.text
    config = created.json()
    assert config["max_value"] == 5 and config["categories"] == []
    assert client.post("/api/v1/score-configs", json=body).status_code == 409
    assert client.get("/api/v1/score-configs/rating").json()["id"] == config["id"]
    changed = client.patch(
        f"/api/v1/score-configs/{config['id']}", json={"max_value": None, "description": "1+"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["max_value"] is None and changed.json()["description"] == "1+"
    assert [c["name"] for c in client.get("/api/v1/score-configs").json()["data"]] == ["rating"]
    assert client.delete("/api/v1/score-configs/rating").status_code == 204
    assert client.get("/api/v1/score-configs/rating").status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"name": "x", "value_type": "stars"}, "value_type 'stars'"),
        ({"name": "x", "value_type": "numeric", "min_value": 2, "max_value": 1}, "exceed"),
        ({"name": "x", "value_type": "boolean", "min_value": 0}, "numeric scores only"),
        ({"name": "x", "value_type": "categorical"}, "distinct categories"),
        ({"name": "x", "value_type": "categorical", "categories": ["a", "a"]}, "distinct"),
        ({"name": "x", "value_type": "numeric", "categories": ["a"]}, "categorical scores only"),
    ],
)
def test_an_invalid_config_is_400_with_its_reason(
    client: httpx.Client, body: dict[str, Any], reason: str
) -> None:
    response = client.post("/api/v1/score-configs", json=body)
    assert response.status_code == 400 and reason in response.json()["error"]


def test_scores_breaking_their_config_are_refused_per_item(
    client: httpx.Client, trace: list[dict[str, Any]]
) -> None:
    for body in (
        {"name": "stars", "value_type": "numeric", "min_value": 1, "max_value": 5},
        {"name": "good", "value_type": "boolean"},
        {"name": "tone", "value_type": "categorical", "categories": ["polite", "rude"]},
    ):
        assert client.post("/api/v1/score-configs", json=body).status_code == 201
    target = {"trace_id": trace[0]["trace_id"]}
    batch = [
        {**target, "name": "stars", "value": 4},
        {**target, "name": "stars", "value": 9},
        {**target, "name": "good", "value": 1},
        {**target, "name": "good", "value": False},
        {**target, "name": "tone", "value": "grumpy"},
        {**target, "name": "tone", "value": "rude"},
        {**target, "name": "free", "value": "anything"},
    ]
    body = client.post("/api/v1/scores", json={"scores": batch}).json()
    assert [s["index"] for s in body["scores"]] == [0, 3, 5, 6]
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert "above 'stars'" in reasons[1] and "max_value 5" in reasons[1]
    assert "takes boolean values, not numeric" in reasons[2]
    assert "not one of 'tone'" in reasons[4]


def test_another_projects_configs_are_out_of_reach(live_api: LiveApi, client: httpx.Client) -> None:
    body = {"name": "private", "value_type": "boolean"}
    config_id = client.post("/api/v1/score-configs", json=body).json()["id"]
    intruder = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=intruder.basic_auth) as other:
        assert other.get("/api/v1/score-configs").json()["data"] == []
        for method in ("GET", "DELETE"):
            assert other.request(method, f"/api/v1/score-configs/{config_id}").status_code == 404
    assert client.get("/api/v1/score-configs/private").status_code == 200
