"""Fuzzing the annotation queue routes on a real queue and item (the schema-wide fuzz test in
test_fuzz_queries.py only reaches them with made-up ids): arbitrary parameters and bodies never
cause a 5xx, every refusal is JSON with a reason, and a label is stored only when its value
keeps to the score config."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.scores.stored_traces import store_trace
from tests.security.fuzzing import HOSTILE_TEXT, JSON_VALUES, assert_handled
from tests.security.test_fuzz_queries import PER_ROUTE, api_operations, fuzz_operation
from tests.support.api_fixtures import LiveApi

PREFIX = "/api/v1/annotation-queues"


@pytest.fixture(scope="module")
def queue(live_api: LiveApi) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    """A client of a project with a boolean score config ``ok`` and a queue of one trace:
    the path values naming the queue and its item."""
    keys = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as client:
        config = {"name": "ok", "value_type": "boolean"}
        assert client.post("/api/v1/score-configs", json=config).status_code == 201
        store_trace(live_api, client)
        body = {"name": "fuzzed", "score_names": ["ok"], "source": {"kind": "filter"}}
        created = client.post(PREFIX, json=body)
        assert created.status_code == 201, created.text
        queue_id = created.json()["id"]
        item_id = client.get(f"{PREFIX}/{queue_id}/items").json()["data"][0]["id"]
        yield client, {"queue": queue_id, "item_id": item_id}


def test_every_annotation_route_answers_arbitrary_input_on_a_real_queue(
    live_api: LiveApi, queue: tuple[httpx.Client, dict[str, str]]
) -> None:
    client, path = queue
    operations = [op for op in api_operations(live_api.app.openapi()) if op.path.startswith(PREFIX)]
    assert {f"{op.method} {op.path.removeprefix(PREFIX)}" for op in operations} == {
        "POST ",
        "GET ",
        "GET /{queue}",
        "DELETE /{queue}",
        "GET /{queue}/items",
        "GET /{queue}/next",
        "POST /{queue}/items/{item_id}/label",
        "POST /{queue}/items/{item_id}/skip",
        "POST /{queue}/dataset",
    }
    for operation in operations:
        if operation.method != "DELETE":  # fuzzed last: it would delete the queue
            fuzz_operation(client, operation, path)
    assert client.get(f"{PREFIX}/{path['queue']}").status_code == 200


def test_a_fuzzed_label_is_stored_only_when_it_keeps_to_the_config(
    queue: tuple[httpx.Client, dict[str, str]],
) -> None:
    client, path = queue
    url = f"{PREFIX}/{path['queue']}/items/{path['item_id']}/label"

    @PER_ROUTE
    @given(
        reviewer=HOSTILE_TEXT,
        value=JSON_VALUES,
        comment=st.one_of(HOSTILE_TEXT, JSON_VALUES),
    )
    def call(reviewer: str, value: Any, comment: Any) -> None:
        body = {"reviewer": reviewer, "values": {"ok": value}, "comment": comment}
        response = client.post(url, json=body)
        assert_handled(response)
        valid = (
            isinstance(value, bool)
            and isinstance(comment, str)
            and "\x00" not in reviewer + comment
            and reviewer.strip() != ""
            and len(reviewer) <= 200
        )
        if response.status_code == 200:
            assert valid and response.json()["scores"][0]["value"] is value
        else:
            assert response.status_code == 400 and not valid, (body, response.text)

    call()
