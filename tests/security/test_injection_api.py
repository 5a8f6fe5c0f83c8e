"""SQL-injection strings through every filter of the query API and the dashboard's trace list.

Each hostile string is stored literally (name, model, user, session, release, tag, input, a
score name) on its own trace, next to a control trace and another project holding the same
values. Every filter must return exactly the traces whose stored value matches the literal
string: the injected trace is found, nothing else leaks, the tables are intact. The store-level
counterpart is tests/store/test_injection.py, whose strings are reused here.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest

from tests.api.spans import new_span_id, new_trace_id
from tests.security.fuzzing import assert_handled
from tests.store.test_injection import INJECTIONS as STORE_INJECTIONS
from tests.web.conftest import LiveDashboard, sign_in
from tests.web.seed import SeededProject, create_member, send_traces

INJECTIONS = [
    *STORE_INJECTIONS,
    "1 UNION SELECT project_id, trace_id FROM spans --",
    "x' UNION ALL SELECT name FROM system.tables --",
    "/* comment */ OR 1=1",
    "admin'--",
    '" OR ""="',
    "ǅungla İstanbul ß 𝔘𝔫𝔦 ' ; --",
    "' OR 1=1 -- " * 150,
]
CONTROL = "plain-control-value"
DASHBOARD_FIELDS = {"name": "name", "model": "model", "user": "user_id", "session": "session_id"}
API_FIELDS = {"user_id": "user_id", "session_id": "session_id", "release": "release"}
TRACE_LINK = re.compile(r'href="/projects/[^/"]+/traces/([0-9a-f]{32})"')


@dataclass
class InjectedTraces:
    """A project whose traces each carry one hostile string (the control trace a plain one)."""

    project: SeededProject
    client: httpx.Client
    trace_of: dict[str, str]  # literal value -> trace id
    spans: dict[str, dict[str, Any]]  # trace id -> its span

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> set[str]:
        """The trace ids whose span satisfies ``predicate``: what a filter must return."""
        return {trace_id for trace_id, span in self.spans.items() if predicate(span)}


def hostile_span(value: str, t0: int) -> dict[str, Any]:
    """One LLM span whose every filterable field is ``value``."""
    return {
        "trace_id": new_trace_id(),
        "span_id": new_span_id(),
        "parent_span_id": None,
        "name": value,
        "kind": "llm",
        "start_time": t0,
        "end_time": t0 + 1_000,
        "model": value,
        "user_id": value,
        "session_id": value,
        "release": value,
        "tags": [value],
        "input": value,
        "output": "answer",
    }


@pytest.fixture(scope="module")
def injected(dashboard: LiveDashboard) -> Iterator[InjectedTraces]:
    email, (project, other) = create_member(dashboard.sessionmaker, ["inject", "inject-other"])
    t0 = int(time.time() * 1_000_000) - 3_600_000_000
    spans = [hostile_span(v, t0 + i * 1_000_000) for i, v in enumerate([*INJECTIONS, CONTROL])]
    send_traces(dashboard.base_url, project, [[span] for span in spans])
    # The other project holds the same strings: none of its traces may ever show up.
    copies = [{**span, "trace_id": new_trace_id()} for span in spans]
    send_traces(dashboard.base_url, other, [[span] for span in copies])
    dashboard.flush()
    dashboard.store.insert_scores(
        [
            {
                "project_id": project.project_id,
                "trace_id": span["trace_id"],
                "span_id": span["span_id"],
                "timestamp": span["start_time"],
                "name": span["name"],
                "value": 0.5,
                "source": "test",
            }
            for span in spans
        ]
    )
    with httpx.Client(base_url=dashboard.base_url, timeout=60) as client:
        assert sign_in(client, email).status_code == 303
        yield InjectedTraces(
            project,
            client,
            {span["name"]: span["trace_id"] for span in spans},
            {span["trace_id"]: span for span in spans},
        )


def api_trace_ids(injected: InjectedTraces, params: dict[str, Any]) -> set[str]:
    """The trace ids GET /api/v1/traces lists for ``params``."""
    response = injected.client.get(
        "/api/v1/traces", params={**params, "limit": 500}, auth=injected.project.auth
    )
    assert response.status_code == 200, response.text
    return {trace["trace_id"] for trace in response.json()["data"]}


def page_trace_ids(injected: InjectedTraces, params: dict[str, str]) -> set[str]:
    """The trace ids the dashboard's trace list links to for ``params``."""
    response = injected.client.get(f"/projects/{injected.project.project_id}/traces", params=params)
    assert response.status_code == 200, response.text[:500]
    return set(TRACE_LINK.findall(response.text))


def in_json_text(value: str, stored: Any) -> bool:
    """Whether ``value`` occurs, ignoring case, in the JSON text the store keeps for ``stored``."""
    return value.lower() in orjson.dumps(stored).decode().lower()


def hostile_cursor(value: str) -> str:
    """A cursor token that decodes to JSON carrying ``value`` in every position."""
    raw = orjson.dumps({"s": "start_time_desc", "k": value, "t": value})
    return base64.urlsafe_b64encode(raw).decode()


VALUES = pytest.mark.parametrize("value", INJECTIONS, ids=[str(i) for i in range(len(INJECTIONS))])
# A page render runs several queries: the dashboard gets one string of each kind.
PAGE_SAMPLE = (0, 2, 4, 7, 11, 12, 17, 18)
PAGE_VALUES = pytest.mark.parametrize(
    "value", [INJECTIONS[i] for i in PAGE_SAMPLE], ids=[str(i) for i in PAGE_SAMPLE]
)


@VALUES
def test_query_api_filters_match_only_the_literal_value(
    injected: InjectedTraces, value: str
) -> None:
    assert injected.trace_of[value] in api_trace_ids(injected, {"user_id": value})
    for param, field in {**API_FIELDS, "name": "name", "model": "model"}.items():
        expected = injected.matching(lambda span, f=field: span[f] == value)
        assert api_trace_ids(injected, {param: value}) == expected, param
    assert api_trace_ids(injected, {"tag": value}) == injected.matching(
        lambda span: value in span["tags"]
    )
    assert api_trace_ids(injected, {"q": value}) == injected.matching(
        lambda span: in_json_text(value, span["input"]) or in_json_text(value, span["output"])
    )


@VALUES
def test_query_api_refuses_hostile_values_of_enumerated_parameters(
    injected: InjectedTraces, value: str
) -> None:
    auth = injected.project.auth
    for path, params in (
        ("/api/v1/traces", {"kind": value}),
        ("/api/v1/traces", {"status": value}),
        ("/api/v1/traces", {"sort": value}),
        ("/api/v1/traces", {"cursor": value}),
        ("/api/v1/traces", {"cursor": hostile_cursor(value)}),
        ("/api/v1/traces", {"start": value}),
        ("/api/v1/metrics", {"group_by": value}),
        ("/api/v1/metrics", {"end": value}),
    ):
        response = injected.client.get(path, params=params, auth=auth)
        assert_handled(response)
        blank = not value.replace(",", "").strip()  # blank: no filter, or a refusal
        assert response.status_code in ((200, 400) if blank else (400,)), (params, response.text)
    detail = injected.client.get(f"/api/v1/traces/{quote(value, safe='')}", auth=auth)
    assert detail.status_code == 404 and detail.json()["error"]


@PAGE_VALUES
def test_dashboard_trace_filters_match_only_the_literal_value(
    injected: InjectedTraces, value: str
) -> None:
    text = value.strip()  # the form ignores surrounding blanks
    if not text:
        return
    for param, field in {**DASHBOARD_FIELDS, "release": "release"}.items():
        expected = injected.matching(lambda span, f=field: span[f] == text)
        assert page_trace_ids(injected, {param: value}) == expected, param
    tags = [t.strip() for t in text.split(",") if t.strip()]
    assert page_trace_ids(injected, {"tags": value}) == injected.matching(
        lambda span: all(tag in span["tags"] for tag in tags)
    )
    assert page_trace_ids(injected, {"q": value}) == injected.matching(
        lambda span: in_json_text(text, span["input"]) or in_json_text(text, span["output"])
    )
    scored = page_trace_ids(injected, {"score": value, "score_min": "0", "score_max": "1"})
    assert scored == injected.matching(lambda span: span["name"] == text)
    for params in ({"kind": value}, {"status": value}, {"sort": value}, {"score_min": value}):
        response = injected.client.get(
            f"/projects/{injected.project.project_id}/traces", params=params
        )
        assert response.status_code == 400, (params, response.text[:300])
    cursor = injected.client.get(
        f"/projects/{injected.project.project_id}/traces", params={"cursor": hostile_cursor(value)}
    )
    assert cursor.status_code == 400


def test_tables_are_intact_after_the_injections(
    dashboard: LiveDashboard, injected: InjectedTraces
) -> None:
    assert api_trace_ids(injected, {}) == set(injected.spans)
    rows = dashboard.store.get_trace(injected.project.project_id, injected.trace_of[CONTROL])
    assert rows and rows[0]["user_id"] == CONTROL
