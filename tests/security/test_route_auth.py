"""Every route of the app, enumerated from ``app.routes`` (API and dashboard): without
credentials it is refused; another project's key or a non-member's session never reaches a
project's data. A route added later without auth fails these tests; only the reviewed public
allowlist in ``app_routes.py`` is exempt."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from haloscope.platform.auth.api_keys import list_api_keys
from haloscope.platform.db.models import EvalRunJob
from haloscope.platform.feedback.calibrations import add_calibration

from tests.feedback.seeding import EVALUATOR, LABEL, VERSION, Target, judge, label
from tests.security.app_routes import RouteCase, fill_path, route_cases
from tests.web.conftest import LiveDashboard, csrf_token_in, sign_in
from tests.web.seed import SeededProject, create_member, rag_trace, send_traces

BODY_METHODS = {"POST", "PUT", "PATCH"}
# Path parameters naming what every project shares (a registered evaluator), not a resource
# of the victim's: another project's key may get a 200 there, with its own (empty) data.
SHARED_PATH_PARAMS = {"evaluator"}


@dataclass
class Victim:
    """Project A: its key pair, the values naming each of its resources in a path or query,
    and secret strings that occur only in its data (never in a request)."""

    project: SeededProject
    path_values: dict[str, str]
    query_values: dict[str, str]
    secrets: tuple[str, ...]
    score_ids: tuple[str, ...] = ()


@pytest.fixture(scope="module")
def victim(dashboard: LiveDashboard) -> Victim:
    _, (project,) = create_member(dashboard.sessionmaker, ["victim"])
    secret = f"secret-{uuid.uuid4().hex}"
    trace = rag_trace(int(time.time() * 1_000_000) - 60_000_000, f"{secret}-question")
    send_traces(dashboard.base_url, project, [trace])
    dashboard.flush()
    rule, dataset, run = "victim-rule", "victim-dataset", "victim-run"
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        metric = api.get("/api/v1/alert-metrics").json()["data"][0]["metric"]
        for path, body in (
            (f"/api/v1/datasets/{dataset}/versions", {"items": [{"input": f"{secret}-item"}]}),
            (
                "/api/v1/eval-runs",
                {"run_id": run, "summary": {"quality": {"value": 0.5, "note": f"{secret}-run"}}},
            ),
            (
                "/api/v1/sampling-rules",
                {"name": rule, "sample_rate": 0.5, "filters": {"release": f"{secret}-r"}},
            ),
            ("/api/v1/alert-rules", {"name": rule, "metric": metric}),
            (
                "/api/v1/score-configs",
                {"name": rule, "value_type": "boolean", "description": f"{secret}-config"},
            ),
        ):
            response = api.post(path, json=body)
            assert response.status_code == 201, (path, response.text)
            if path == "/api/v1/sampling-rules":
                rule_id = response.json()["id"]
        score = {"trace_id": trace[0]["trace_id"], "name": rule, "value": True}
        posted = api.post("/api/v1/scores", json={**score, "comment": f"{secret}-score"})
        assert posted.status_code == 200, posted.text
        queue = {"name": "victim-queue", "score_names": [rule], "source": {"kind": "filter"}}
        created = api.post(
            "/api/v1/annotation-queues", json={**queue, "description": f"{secret}-queue"}
        )
        assert created.status_code == 201, created.text
        queue_id = created.json()["id"]
        item_id = api.get(f"/api/v1/annotation-queues/{queue_id}/items").json()["data"][0]["id"]
        price = {"model_pattern": rule, "input_per_million": 1, "output_per_million": 1}
        priced = api.post("/api/v1/model-prices", json={**price, "note": f"{secret}-price"})
        assert priced.status_code == 201, priced.text
        spec = {
            "name": "victim-judge",
            "description": f"{secret}-judge",
            "system": "Is the answer wrong? Reply Yes or No.",
            "template": "ANSWER: {{ output }}",
            "choices": ["Yes", "No"],
            "positive": "Yes",
        }
        judged = api.post("/api/v1/judges", json=spec)
        assert judged.status_code == 201, judged.text
    # A judge score on the LLM span, a reviewer's label on it and a project calibration.
    llm = next(span for span in trace if span["kind"] == "llm")
    target = Target(llm["trace_id"], llm["span_id"], llm["start_time"])
    judge(dashboard.store, project.project_id, target, 0.9)
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        label(api, target, False, author=f"{secret}-reviewer")
        score_ids = tuple(s["id"] for s in api.get("/api/v1/scores").json()["data"])
    with dashboard.sessionmaker.begin() as db:
        add_calibration(
            db,
            project.project_id,
            EVALUATOR,
            VERSION,
            label_name=LABEL,
            params={"a": 0.5, "b": 0.0, "threshold": 0.5, "labels": ["faithful", "hallucinated"]},
            metrics={"held_back": 6},
            n_labels=20,
            created_by=f"{secret}-calibration",
        )
    # The eval run's items (an output holds the secret) and a run started from the dashboard.
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        items = {"items": [{"id": "victim-item", "output": f"{secret}-output"}]}
        assert api.post(f"/api/v1/eval-runs/{run}/items", json=items).status_code == 200
    with dashboard.sessionmaker.begin() as db:
        job = EvalRunJob(
            project_id=project.project_id, run_id="victim-job", dataset=dataset,
            dataset_version=1, target="victim-target", config="victim-config",
        )  # fmt: skip
        db.add(job)
        db.flush()
        job_id = job.id
    with dashboard.sessionmaker() as db:
        key_id = list_api_keys(db, project.project_id)[0].id
    path_values = {
        "trace_id": trace[0]["trace_id"],
        "name": dataset,
        "version": "1",
        "run_id": run,
        "rule": rule,
        "rule_id": rule_id,
        "report_id": str(uuid.uuid4()),
        "project_id": project.project_id,
        "key_id": key_id,
        "score_id": posted.json()["scores"][0]["id"],
        "config": rule,
        "queue": queue_id,
        "queue_id": queue_id,
        "item_id": item_id,
        "price_id": priced.json()["id"],
        "job_id": job_id,
        "evaluator": EVALUATOR,
        "calibration": "1",
        "session_id": trace[0]["session_id"],
        "user_id": trace[0]["user_id"],
        "judge": "victim-judge",
    }
    query_values = {"project": project.project_id, "rule": rule, "reviewer": "victim@example.com"}
    query_values["label_name"] = LABEL
    return Victim(project, path_values, query_values, (secret, project.name), score_ids)


def url_for(case: RouteCase, victim: Victim) -> str:
    """The route's path aimed at the victim's resources, with the query values it knows."""
    for name in case.path_params:
        assert name in victim.path_values, f"{case}: give the victim fixture a value for {name!r}"
    url = fill_path(case.path, victim.path_values)
    query = {n: victim.query_values[n] for n in case.query_params if n in victim.query_values}
    return str(httpx.URL(url, params=query))


def send(client: httpx.Client, case: RouteCase, victim: Victim, **extra: object) -> httpx.Response:
    """One request of ``case``; body routes get an empty JSON object."""
    body = {"json": {}} if case.method in BODY_METHODS and case.is_api else {}
    return client.request(case.method, url_for(case, victim), **body, **extra)


@pytest.fixture(scope="module")
def guarded(dashboard: LiveDashboard) -> list[RouteCase]:
    cases = [case for case in route_cases(dashboard.app) if not case.is_public]
    assert any(c.is_api for c in cases) and any(not c.is_api for c in cases)
    return cases


@pytest.fixture
def anonymous(dashboard: LiveDashboard) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard.base_url, timeout=60) as client:
        yield client


def test_public_allowlist_routes_exist(dashboard: LiveDashboard) -> None:
    served = {(case.method, case.path) for case in route_cases(dashboard.app)}
    assert {("GET", "/api/health"), ("GET", "/login"), ("POST", "/login")} <= served


def test_every_route_refuses_requests_without_credentials(
    guarded: list[RouteCase], victim: Victim, anonymous: httpx.Client
) -> None:
    for case in guarded:
        response = send(anonymous, case, victim)
        if case.is_api:
            assert response.status_code == 401, (str(case), response.status_code)
            assert response.json()["error"] and "www-authenticate" in response.headers
        else:
            assert response.status_code == 303, (str(case), response.status_code)
            assert response.headers["location"].startswith("/login?next=")
        assert not any(secret in response.text for secret in victim.secrets), str(case)


def test_an_api_key_opens_no_dashboard_page_and_a_session_no_api_route(
    dashboard: LiveDashboard, guarded: list[RouteCase], victim: Victim
) -> None:
    email, _ = create_member(dashboard.sessionmaker, ["session-only"])
    with httpx.Client(base_url=dashboard.base_url, timeout=60) as browser:
        assert sign_in(browser, email).status_code == 303
        for case in guarded:
            if case.is_api:
                assert send(browser, case, victim).status_code == 401, str(case)
    with httpx.Client(base_url=dashboard.base_url, auth=victim.project.auth, timeout=60) as keyed:
        for case in guarded:
            if not case.is_api:
                assert send(keyed, case, victim).status_code == 303, str(case)


def test_another_projects_key_never_reaches_the_victims_data(
    dashboard: LiveDashboard, guarded: list[RouteCase], victim: Victim
) -> None:
    _, (intruder,) = create_member(dashboard.sessionmaker, ["intruder"])
    with httpx.Client(base_url=dashboard.base_url, auth=intruder.auth, timeout=60) as client:
        for case in (c for c in guarded if c.is_api):
            response = send(client, case, victim)
            assert response.status_code < 500, (str(case), response.text)
            assert not any(secret in response.text for secret in victim.secrets), str(case)
            if set(case.path_params) - SHARED_PATH_PARAMS:
                assert response.status_code in (400, 401, 403, 404), (str(case), response.text)
    # Nothing of the victim's was changed or deleted by the intruder's requests.
    with httpx.Client(base_url=dashboard.base_url, auth=victim.project.auth, timeout=60) as own:
        for case in guarded:
            if case.is_api and case.method == "GET" and case.path_params:
                assert own.get(url_for(case, victim)).status_code in (200, 404), str(case)
        for path in ("sampling-rules", "alert-rules", "score-configs"):
            assert own.get(f"/api/v1/{path}/{victim.path_values['rule']}").status_code == 200
        scores = own.get("/api/v1/scores").json()["data"]
        assert sorted(s["id"] for s in scores) == sorted(victim.score_ids)
        assert victim.path_values["score_id"] in victim.score_ids
        calibrations = own.get(f"/api/v1/evaluators/{EVALUATOR}/calibrations").json()
        assert calibrations["active"] == 1 and len(calibrations["data"]) == 1
        agreement = own.get(f"/api/v1/evaluators/{EVALUATOR}/agreement?label_name={LABEL}")
        assert agreement.json()["n"] == 1 and victim.secrets[0] in agreement.text
        queue = own.get(f"/api/v1/annotation-queues/{victim.path_values['queue']}").json()
        assert (
            queue["progress"]["labels_by_reviewer"] == {} == queue["progress"]["skips_by_reviewer"]
        )
        # The export, which the intruder's key got empty, holds the victim's score.
        assert victim.secrets[0] in own.get("/api/v1/scores/export?format=jsonl").text
        # The eval run's items, which the intruder's uploads could not replace.
        run_items = own.get(f"/api/v1/eval-runs/{victim.path_values['run_id']}/items").json()
        assert [i["output"] for i in run_items["data"]] == [f"{victim.secrets[0]}-output"]


def test_a_non_member_session_is_refused_on_every_page(
    dashboard: LiveDashboard, guarded: list[RouteCase], victim: Victim
) -> None:
    email, (own,) = create_member(dashboard.sessionmaker, ["outsider"])
    for case in (c for c in guarded if not c.is_api):
        with httpx.Client(base_url=dashboard.base_url, timeout=60) as browser:
            assert sign_in(browser, email).status_code == 303
            form = {}
            if case.method == "POST":  # a valid CSRF token, so only membership can refuse it
                page = browser.get(f"/projects/{own.project_id}/keys")
                form = {"data": {"csrf_token": csrf_token_in(page.text)}}
            response = send(browser, case, victim, **form)
            assert not any(secret in response.text for secret in victim.secrets), str(case)
            if "project_id" in case.path_params or "project" in case.query_params:
                assert response.status_code in (403, 404), (str(case), response.status_code)
            else:
                assert response.status_code < 400 or response.status_code == 403, str(case)
                assert victim.project.project_id not in response.headers.get("location", "")
    with httpx.Client(base_url=dashboard.base_url, auth=victim.project.auth, timeout=60) as api:
        assert api.get("/api/v1/datasets").status_code == 200  # the victim's key still works
