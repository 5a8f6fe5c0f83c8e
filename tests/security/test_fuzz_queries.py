"""Property-based fuzzing of every read and job/eval route of the API, derived from the app's
OpenAPI schema: arbitrary values for every path, query and body parameter never cause a 5xx,
and every refusal is JSON with a reason. The dashboard's trace list gets the same treatment."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from haloscope.web.trace_params import FORM_FIELDS
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.security.app_routes import (
    DOWNLOAD_MEDIA_TYPES,
    fill_path,
    path_parameters,
    route_cases,
)
from tests.security.fuzzing import FUZZ, HOSTILE_TEXT, JSON_VALUES, assert_handled, json_bytes
from tests.support.api_fixtures import LiveApi
from tests.web.conftest import LiveDashboard
from tests.web.seed import create_member

# Fuzzed separately (test_fuzz_ingest.py) or without parameters worth fuzzing.
NOT_FUZZED_HERE = {"/api/v1/ingest", "/v1/traces", "/api/health"}
PER_ROUTE = settings(FUZZ, max_examples=25)

QUERY_VALUES = st.one_of(
    HOSTILE_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.datetimes().map(lambda moment: moment.isoformat()),
    st.sampled_from(
        [
            "",
            "nan",
            "inf",
            "-1",
            "0",
            "1e309",
            "²",
            "٣",
            "2025-13-45T99:00:00Z",
            "9999-12-31",
            "ok",
            "error",
            "llm",
            "day,model",
            "start_time_desc",
            "cost_desc",
            "latest",
        ]
    ),
)


@dataclass(frozen=True)
class Operation:
    """One method of one API path, with the names of its parameters."""

    method: str
    path: str
    path_params: tuple[str, ...]
    query_params: tuple[str, ...]
    body_fields: tuple[str, ...] | None  # None: the operation takes no JSON body

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _body_fields(schema: dict[str, Any], operation: dict[str, Any]) -> tuple[str, ...] | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    body = content["schema"]
    if "$ref" in body:
        body = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    return tuple(body.get("properties", {}))


def api_operations(schema: dict[str, Any]) -> list[Operation]:
    """Every operation of the OpenAPI ``schema`` that is fuzzed here."""
    operations = []
    for path, methods in schema["paths"].items():
        if path in NOT_FUZZED_HERE:
            continue
        for method, operation in methods.items():
            params = operation.get("parameters", [])
            operations.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p["in"] == "path"),
                    tuple(p["name"] for p in params if p["in"] == "query"),
                    _body_fields(schema, operation),
                )
            )
    return operations


def request_for(
    operation: Operation, fixed_path: dict[str, str] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """httpx request arguments with arbitrary values for every parameter of ``operation``
    (but the path parameters given in ``fixed_path``, which name real resources)."""
    fixed = fixed_path or {}
    path_values = st.fixed_dictionaries(
        {
            name: st.just(fixed[name]) if name in fixed else HOSTILE_TEXT.filter(bool)
            for name in operation.path_params
        }
    )
    query = st.fixed_dictionaries(
        {}, optional={name: st.lists(QUERY_VALUES, max_size=3) for name in operation.query_params}
    )
    if operation.body_fields is None:
        body = st.none()
    else:
        fields = st.fixed_dictionaries(
            {}, optional=dict.fromkeys(operation.body_fields, JSON_VALUES)
        )
        body = st.one_of(fields, JSON_VALUES)

    def build(values: dict[str, str], params: dict[str, list[str]], payload: Any) -> dict[str, Any]:
        url = operation.path
        for name, value in values.items():
            url = url.replace(f"{{{name}}}", quote(value, safe=""))
        request: dict[str, Any] = {"method": operation.method, "url": url, "params": params}
        if operation.body_fields is not None:
            request["content"] = json_bytes(payload)
            request["headers"] = {"Content-Type": "application/json"}
        return request

    return st.builds(build, path_values, query, body)


@pytest.fixture(scope="module")
def api_client(live_api: LiveApi) -> Iterator[httpx.Client]:
    keys = live_api.new_project()
    with httpx.Client(base_url=live_api.base_url, auth=keys.basic_auth, timeout=60) as client:
        yield client


def test_the_schema_lists_the_query_and_job_routes(live_api: LiveApi) -> None:
    paths = {op.path for op in api_operations(live_api.app.openapi())}
    assert {"/api/v1/traces", "/api/v1/traces/{trace_id}", "/api/v1/metrics"} <= paths
    assert {"/api/v1/sampling-rules/{rule}", "/api/v1/eval-runs/{run_id}"} <= paths
    assert {
        "/api/v1/scores",
        "/api/v1/scores/{score_id}",
        "/api/v1/score-configs/{config}",
    } <= paths
    assert {
        "/api/v1/evaluators/{evaluator}/agreement",
        "/api/v1/evaluators/{evaluator}/calibrations",
        "/api/v1/evaluators/{evaluator}/calibrations/{calibration}/activate",
        "/api/v1/evaluators/{evaluator}/calibrations/active",
    } <= paths
    assert {
        "/api/v1/sessions",
        "/api/v1/sessions/{session_id}",
        "/api/v1/users",
        "/api/v1/users/{user_id}",
    } <= paths


def test_every_api_operation_answers_arbitrary_parameters(
    live_api: LiveApi, api_client: httpx.Client
) -> None:
    for operation in api_operations(live_api.app.openapi()):
        fuzz_operation(api_client, operation)


def fuzz_operation(
    client: httpx.Client, operation: Operation, fixed_path: dict[str, str] | None = None
) -> None:
    """Send ``operation`` with arbitrary parameters (but ``fixed_path``): never a 5xx, every
    refusal with a reason."""

    @PER_ROUTE
    @given(request=request_for(operation, fixed_path))
    def call(request: dict[str, Any]) -> None:
        assert_handled(client.request(**request))

    call()


def dashboard_pages(dashboard: LiveDashboard) -> list[tuple[str, tuple[str, ...]]]:
    """``(path, query parameter names)`` of every project page; the trace list reads its
    filter form from the raw query string, so its fields are added."""
    pages = []
    for case in route_cases(dashboard.app):
        if case.method == "GET" and "project_id" in case.path_params:
            names = set(case.query_params)
            if case.path.endswith("/traces"):
                names |= {*FORM_FIELDS, "cursor"}
            pages.append((case.path, tuple(sorted(names))))
    return pages


def test_every_dashboard_page_answers_arbitrary_parameters(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> None:
    email, (project,) = create_member(dashboard.sessionmaker, ["fuzz"])
    client = client_for(email)
    pages = dashboard_pages(dashboard)
    assert any(path.endswith("/traces") for path, _ in pages)
    for path, names in pages:
        media_types = ("text/html", *DOWNLOAD_MEDIA_TYPES.get(path, ()))
        fuzz_page(client, path.replace("{project_id}", project.project_id), names, media_types)


def fuzz_page(
    client: httpx.Client,
    path: str,
    names: tuple[str, ...],
    media_types: tuple[str, ...] = ("text/html",),
) -> None:
    """GET a dashboard page with arbitrary path and query values (one hostile value for the
    path parameters left: a trace, session or user id): an HTML answer (or the download's
    type), never 5xx."""

    @PER_ROUTE
    @given(
        path_value=HOSTILE_TEXT.filter(bool),
        params=st.fixed_dictionaries({}, optional=dict.fromkeys(names, QUERY_VALUES)),
    )
    def call(path_value: str, params: dict[str, str]) -> None:
        value = quote(path_value, safe="")
        url = fill_path(path, dict.fromkeys(path_parameters(path), value))
        response = client.get(url, params=params)
        assert response.status_code < 500, (url, params, response.text[:300])
        assert response.headers["content-type"].startswith(media_types), (url, params)

    call()


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/metrics", {"start": "²"}),  # str.isdigit() but not int()
        ("/api/v1/traces", {"end": "٣²"}),
        ("/api/v1/metrics", {"end": str(2**70)}),  # beyond 64 bits
        ("/api/v1/traces", {"start": str(2**63)}),
    ],
)
def test_timestamps_found_by_fuzzing_are_refused_with_a_reason(
    api_client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = api_client.get(path, params=params)
    assert_handled(response)
    assert response.status_code == 400 and next(iter(params)) in response.json()["error"]


def test_a_cost_cursor_with_too_many_digits_is_a_400(api_client: httpx.Client) -> None:
    key = "9" * 40 + ".5"
    token = base64.urlsafe_b64encode(orjson.dumps({"s": "cost_desc", "k": key, "t": "x"})).decode()
    response = api_client.get("/api/v1/traces", params={"sort": "cost_desc", "cursor": token})
    assert_handled(response)
    assert response.status_code == 400
