"""Sampling rules and alert rules share one CRUD (``api/rule_crud.py``): the same statuses and
error shapes for a taken name, an invalid rule, a null field, a rule looked up by id or by name,
a missing rule and a delete."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.api_fixtures import LiveApi


@dataclass(frozen=True)
class Kind:
    """One kind of rule as the API sees it: its path, label and bodies."""

    path: str
    label: str
    valid: dict[str, Any]
    invalid: dict[str, Any]
    change: dict[str, Any]


KINDS = [
    Kind(
        "sampling-rules",
        "sampling rule",
        {"name": "r1", "sample_rate": 0.5},
        {"name": "bad", "sample_rate": 2.0},
        {"window_hours": 12},
    ),
    Kind(
        "alert-rules",
        "alert rule",
        {"name": "r1", "metric": "error_rate"},
        {"name": "bad", "metric": "error_rate", "threshold": -1},
        {"window_hours": 12},
    ),
]


@pytest.fixture(params=KINDS, ids=[k.path for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


@pytest.fixture
def api(live_api: LiveApi) -> Iterator[httpx.Client]:
    keys = live_api.new_project()
    base_url = f"{live_api.base_url}/api/v1"
    with httpx.Client(base_url=base_url, auth=keys.basic_auth, timeout=30) as client:
        yield client


def _error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    return response.json()["error"]


def test_a_missing_rule_answers_404_on_get_patch_and_delete(api: httpx.Client, kind: Kind) -> None:
    expected = f"{kind.label} 'nope' not found"
    assert _error(api.get(f"/{kind.path}/nope"), 404) == expected
    assert _error(api.patch(f"/{kind.path}/nope", json=kind.change), 404) == expected
    assert _error(api.delete(f"/{kind.path}/nope"), 404) == expected


def test_a_rule_is_read_changed_and_deleted_by_id_or_name(api: httpx.Client, kind: Kind) -> None:
    created = api.post(f"/{kind.path}", json=kind.valid)
    assert created.status_code == 201, created.text
    rule = created.json()
    assert api.get(f"/{kind.path}").json() == {"data": [rule]}
    assert api.get(f"/{kind.path}/{rule['id']}").json() == rule
    assert api.get(f"/{kind.path}/{rule['name']}").json() == rule
    changed = api.patch(f"/{kind.path}/{rule['name']}", json=kind.change)
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**rule, **kind.change}

    deleted = api.delete(f"/{kind.path}/{rule['name']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert _error(api.delete(f"/{kind.path}/{rule['id']}"), 404) == (
        f"{kind.label} {rule['id']!r} not found"
    )
    assert api.get(f"/{kind.path}").json() == {"data": []}


def test_a_taken_name_answers_409_and_an_invalid_rule_400(api: httpx.Client, kind: Kind) -> None:
    assert api.post(f"/{kind.path}", json=kind.valid).status_code == 201
    taken = _error(api.post(f"/{kind.path}", json=kind.valid), 409)
    assert taken == f"{kind.label} {kind.valid['name']!r} already exists"
    assert _error(api.post(f"/{kind.path}", json=kind.invalid), 400)
    assert _error(api.post(f"/{kind.path}", json={**kind.valid, "colour": "red"}), 400)
    assert [r["name"] for r in api.get(f"/{kind.path}").json()["data"]] == [kind.valid["name"]]


def test_a_null_or_invalid_change_answers_400_a_clashing_name_409_and_keeps_the_rule(
    api: httpx.Client, kind: Kind
) -> None:
    rule = api.post(f"/{kind.path}", json=kind.valid).json()
    nulled = _error(api.patch(f"/{kind.path}/{rule['id']}", json={"window_hours": None}), 400)
    assert nulled == "['window_hours'] cannot be null"
    assert _error(api.patch(f"/{kind.path}/{rule['id']}", json={"window_hours": 0}), 400)
    other = api.post(f"/{kind.path}", json={**kind.valid, "name": "r2"}).json()
    renamed = _error(api.patch(f"/{kind.path}/{other['id']}", json={"name": rule["name"]}), 409)
    assert renamed == f"{kind.label} {rule['name']!r} already exists"
    assert api.get(f"/{kind.path}/{rule['id']}").json() == rule
