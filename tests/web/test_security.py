"""Sign-in, sessions, CSRF, project isolation and security headers, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from haloscope.platform.auth.api_keys import list_api_keys
from haloscope.platform.auth.hashing import sha256_hex
from haloscope.platform.db.models import WebSession
from sqlalchemy import func, select

from tests.web.conftest import LiveDashboard, csrf_token_in, sign_in
from tests.web.seed import SeededProject, create_member, rag_trace, send_traces


@pytest.fixture
def anonymous(dashboard: LiveDashboard) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dashboard.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def member(dashboard: LiveDashboard) -> tuple[str, SeededProject]:
    email, (project,) = create_member(dashboard.sessionmaker, ["secure"])
    return email, project


@pytest.mark.parametrize("path", ["/", "/projects/any/overview", "/projects/any/traces?q=x"])
def test_unauthenticated_pages_redirect_to_login(anonymous: httpx.Client, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert anonymous.post("/projects/any/keys", data={"note": "x"}).status_code == 303


def test_login_sets_a_hardened_session_cookie(
    anonymous: httpx.Client, member: tuple[str, SeededProject]
) -> None:
    response = sign_in(anonymous, member[0])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "haloscope_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert anonymous.get(response.headers["location"], follow_redirects=True).status_code == 200


def test_wrong_password_and_missing_login_token_are_refused(
    anonymous: httpx.Client, member: tuple[str, SeededProject]
) -> None:
    wrong = sign_in(anonymous, member[0], "not the password")
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    assert "haloscope_session" not in anonymous.cookies
    no_token = anonymous.post("/login", data={"email": member[0], "password": "x" * 10})
    assert no_token.status_code == 403


def test_login_redirects_only_to_local_paths(
    anonymous: httpx.Client, member: tuple[str, SeededProject]
) -> None:
    form = anonymous.get("/login")
    response = anonymous.post(
        "/login",
        data={
            "email": member[0],
            "password": "correct horse battery",
            "csrf_token": csrf_token_in(form.text),
            "next": "//evil.example/",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_other_projects_are_refused(
    dashboard: LiveDashboard,
    client_for: Callable[[str], httpx.Client],
    member: tuple[str, SeededProject],
) -> None:
    _, (foreign,) = create_member(dashboard.sessionmaker, ["foreign"])
    trace = rag_trace(1_700_000_000_000_000, "secret question")
    send_traces(dashboard.base_url, foreign, [trace])
    dashboard.flush()
    client = client_for(member[0])
    base = f"/projects/{foreign.project_id}"
    for path in ("overview", "traces", f"traces/{trace[0]['trace_id']}", "keys", "drift"):
        response = client.get(f"{base}/{path}")
        assert response.status_code == 404, path
        assert "secret question" not in response.text
    token = csrf_token_in(client.get(f"/projects/{member[1].project_id}/keys").text)
    assert client.post(f"{base}/keys", data={"csrf_token": token}).status_code == 404
    switch = client.get("/switch-project", params={"project": foreign.project_id})
    assert switch.status_code == 404
    # The switcher lists the member's projects only.
    own = client.get(f"/projects/{member[1].project_id}/overview").text
    assert member[1].name in own and foreign.name not in own


def test_key_creation_needs_a_valid_csrf_token_and_shows_the_secret_once(
    client_for: Callable[[str], httpx.Client], member: tuple[str, SeededProject]
) -> None:
    email, project = member
    client = client_for(email)
    keys_url = f"/projects/{project.project_id}/keys"
    token = csrf_token_in(client.get(keys_url).text)
    assert client.post(keys_url, data={"note": "ci"}).status_code == 403
    assert client.post(keys_url, data={"note": "ci", "csrf_token": token + "x"}).status_code == 403

    created = client.post(keys_url, data={"note": "ci", "csrf_token": token})
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    secret = created.text.split('data-key="secret">')[1].split("<")[0]
    public = created.text.split('data-key="public">')[1].split("<")[0]
    assert secret.startswith("sk-hs-")
    listing = client.get(keys_url).text
    assert public in listing and secret not in listing and f"…{secret[-4:]}" in listing

    ingest = httpx.post(
        f"{client.base_url}/api/v1/ingest", json={"spans": []}, auth=(public, secret)
    )
    assert ingest.status_code == 200


def test_revoking_a_key_needs_csrf_and_stops_ingest(
    dashboard: LiveDashboard,
    client_for: Callable[[str], httpx.Client],
    member: tuple[str, SeededProject],
) -> None:
    email, project = member
    client = client_for(email)
    keys_url = f"/projects/{project.project_id}/keys"
    token = csrf_token_in(client.get(keys_url).text)
    with dashboard.sessionmaker() as db:
        key_id = list_api_keys(db, project.project_id)[0].id
    revoke_url = f"{keys_url}/{key_id}/revoke"
    assert client.post(revoke_url, data={"csrf_token": "forged"}).status_code == 403
    ingest = f"{dashboard.base_url}/api/v1/ingest"
    assert httpx.post(ingest, json={"spans": []}, auth=project.auth).status_code == 200
    assert client.post(revoke_url, data={"csrf_token": token}).status_code == 303
    assert httpx.post(ingest, json={"spans": []}, auth=project.auth).status_code == 401
    assert "revoked" in client.get(keys_url).text


def test_logout_needs_csrf_and_invalidates_the_session(
    dashboard: LiveDashboard, anonymous: httpx.Client, member: tuple[str, SeededProject]
) -> None:
    email, project = member
    sign_in(anonymous, email)
    stolen = anonymous.cookies["haloscope_session"]
    page = anonymous.get(f"/projects/{project.project_id}/overview")
    assert anonymous.post("/logout").status_code == 403
    response = anonymous.post("/logout", data={"csrf_token": csrf_token_in(page.text)})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    with dashboard.sessionmaker() as db:
        live = select(func.count()).where(WebSession.token_hash == sha256_hex(stolen))
        assert db.scalar(live) == 0
    replay = httpx.get(
        f"{dashboard.base_url}/projects/{project.project_id}/overview",
        cookies={"haloscope_session": stolen},
    )
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")


def test_pages_carry_security_headers(
    client_for: Callable[[str], httpx.Client], member: tuple[str, SeededProject]
) -> None:
    email, project = member
    client = client_for(email)
    for path in ("/login", f"/projects/{project.project_id}/overview", "/static/dashboard.css"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
