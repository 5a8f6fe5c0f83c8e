"""Security headers on every dashboard page (enumerated from the app) and on its error and
redirect answers; cookie flags, including Secure behind an HTTPS proxy."""

from __future__ import annotations

import time
from collections.abc import Callable
from http.cookies import SimpleCookie

import httpx
import pytest
from haloscope.platform.annotation import queues
from haloscope.platform.auth.api_keys import list_api_keys
from haloscope.platform.db.models import EvalRunJob
from haloscope.platform.jobs import rules, sampling
from haloscope.platform.scores.configs import create_score_config
from haloscope.platform.store import TraceFilter

from tests.security.app_routes import fill_path, route_cases
from tests.web.conftest import LiveDashboard, csrf_token_in, sign_in
from tests.web.seed import PASSWORD, create_member, rag_trace, send_traces

# What web/haloscope/web/security.py promises (docs/security.md).
EXPECTED = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
# The API's schema and interactive docs (their viewer loads from a CDN, so no CSP).
API_DOCS = ("/docs", "/redoc", "/openapi.json")
CSP_DIRECTIVES = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "frame-ancestors 'none'",
    "object-src 'none'",
    "base-uri 'none'",
)


def assert_secure_headers(response: httpx.Response) -> None:
    """The browser-hardening headers of a dashboard answer."""
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (str(response.url), name)
    csp = response.headers.get("content-security-policy", "")
    for directive in CSP_DIRECTIVES:
        assert directive in csp, (str(response.url), directive)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp


def set_cookies(response: httpx.Response) -> dict[str, dict[str, str | bool]]:
    """The cookies a response sets, with their attributes (names lower-cased)."""
    cookies: dict[str, dict[str, str | bool]] = {}
    for header in response.headers.get_list("set-cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        for name, morsel in parsed.items():
            cookies[name] = {k: v for k, v in morsel.items() if v}
    return cookies


@pytest.fixture
def signed_in_pages(
    dashboard: LiveDashboard, client_for: Callable[[str], httpx.Client]
) -> tuple[httpx.Client, list[str]]:
    """A signed-in owner and the URL of every dashboard GET page, filled with real ids."""
    email, (project,) = create_member(dashboard.sessionmaker, ["headers"])
    trace = rag_trace(int(time.time() * 1_000_000) - 60_000_000, "headers?")
    send_traces(dashboard.base_url, project, [trace])
    dashboard.flush()
    with dashboard.sessionmaker() as db:
        key_id = list_api_keys(db, project.project_id)[0].id
        rule = rules.create_rule(db, project.project_id, rules.RuleSpec(name="headers", per_day=5))
        run_id = sampling.start_run(db, rule, "test").id
        create_score_config(db, project.project_id, {"name": "ok", "value_type": "boolean"})
        spec = queues.QueueSpec("headers", ("ok",), queues.FilterSource(TraceFilter()))
        queue_id = queues.create_queue(db, dashboard.store, project.project_id, spec, email).id
        job = EvalRunJob(
            project_id=project.project_id, run_id="headers-job", dataset="headers",
            dataset_version=1, target="t", config="c",
        )  # fmt: skip
        db.add(job)
        db.commit()
        rule_id, job_id = rule.id, job.id
    with httpx.Client(base_url=dashboard.base_url, auth=project.auth, timeout=60) as api:
        for eval_run in ("headers-baseline", "headers-candidate"):
            body = {"run_id": eval_run, "summary": {"accuracy": {"value": 0.5}}}
            assert api.post("/api/v1/eval-runs", json=body).status_code == 201
    queries = {
        "project": project.project_id,
        "baseline": "headers-baseline",
        "candidate": "headers-candidate",
    }
    values = {
        "project_id": project.project_id,
        "trace_id": trace[0]["trace_id"],
        "key_id": key_id,
        "rule_id": rule_id,
        "run_id": run_id,
        "queue_id": queue_id,
        "session_id": trace[0]["session_id"],
        "job_id": job_id,
    }
    urls = []
    for case in route_cases(dashboard.app):
        if case.is_api or case.method != "GET" or case.path.startswith(API_DOCS):
            continue
        url = fill_path(case.path, {name: values[name] for name in case.path_params})
        query = {n: queries[n] for n in case.query_params if n in queries}
        urls.append(str(httpx.URL(url, params=query)))
    return client_for(email), urls


def test_every_dashboard_page_sends_the_security_headers(
    signed_in_pages: tuple[httpx.Client, list[str]],
) -> None:
    client, urls = signed_in_pages
    assert any(url.endswith("/traces") for url in urls)
    for url in urls:
        response = client.get(url)
        assert response.status_code < 400, (url, response.status_code)
        assert_secure_headers(response)


def test_errors_redirects_and_assets_send_them_too(dashboard: LiveDashboard) -> None:
    with httpx.Client(base_url=dashboard.base_url, timeout=60) as anonymous:
        for path in ("/login", "/projects/x/overview", "/no-such-page", "/static/dashboard.css"):
            assert_secure_headers(anonymous.get(path))
        for path in API_DOCS:
            response = anonymous.get(path)
            assert all(response.headers.get(k) == v for k, v in EXPECTED.items()), path
    email, (project,) = create_member(dashboard.sessionmaker, ["headers-errors"])
    with httpx.Client(base_url=dashboard.base_url, timeout=60) as client:
        sign_in(client, email)
        for path, status in (
            ("/projects/someone-else/overview", 404),
            (f"/projects/{project.project_id}/traces?kind=bogus", 400),
        ):
            response = client.get(path)
            assert response.status_code == status
            assert_secure_headers(response)


@pytest.mark.parametrize("https", [False, True], ids=["http", "https-proxy"])
def test_cookies_are_httponly_samesite_and_secure_behind_https(
    dashboard: LiveDashboard, https: bool
) -> None:
    email, _ = create_member(dashboard.sessionmaker, ["cookies"])
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a TLS-terminating proxy.
    headers = {"X-Forwarded-Proto": "https"} if https else {}
    form = httpx.get(f"{dashboard.base_url}/login", headers=headers, timeout=60)
    login_cookie = set_cookies(form)["haloscope_login_csrf"]
    token = csrf_token_in(form.text)
    # Sent by hand: a client keeps a Secure cookie off a plain-HTTP connection to the proxy.
    response = httpx.post(
        f"{dashboard.base_url}/login",
        data={"email": email, "password": PASSWORD, "csrf_token": token},
        headers={**headers, "Cookie": f"haloscope_login_csrf={token}"},
        timeout=60,
    )
    assert response.status_code == 303
    session_cookie = set_cookies(response)["haloscope_session"]
    for cookie, same_site in ((login_cookie, "Strict"), (session_cookie, "Lax")):
        assert cookie.get("httponly") is True
        assert str(cookie.get("samesite")).lower() == same_site.lower()
        assert bool(cookie.get("secure")) is https
