"""Dashboard fixtures: the real app (API + dashboard) under uvicorn on 127.0.0.1, sharing the
pytest process's chDB store, and signed-in HTTP clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from haloscope.platform.api.app import create_app
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore
from haloscope.web import mount_dashboard
from sqlalchemy.orm import Session, sessionmaker

from tests.support.api_fixtures import serve_in_thread
from tests.web.seed import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class LiveDashboard:
    """The running app: its URL, app, store and metadata sessions."""

    base_url: str
    app: FastAPI
    store: TraceStore
    sessionmaker: sessionmaker[Session]

    def flush(self) -> None:
        """Wait until every accepted span is in the store."""
        assert self.app.state.haloscope.writer.flush(30), "span writer did not flush"


@pytest.fixture(scope="session")
def dashboard(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    api_metadata: tuple[str, sessionmaker[Session]],
) -> Iterator[LiveDashboard]:
    """API + dashboard over the session chDB store, as ``haloscope serve`` composes them."""
    url, sessions = api_metadata
    settings = chdb_settings.replace(
        database_url=url, write_flush_interval_s=0.05, auth_cache_ttl_s=0.0, rate_limit_per_s=0
    )
    app = create_app(settings, store=chdb_store, sessionmaker=sessions)
    mount_dashboard(app, settings=settings, store=chdb_store, sessionmaker=sessions)
    with serve_in_thread(app) as base_url:
        yield LiveDashboard(base_url, app, chdb_store, sessions)


def csrf_token_in(html: str) -> str:
    """The first CSRF token of a page's forms."""
    match = CSRF_FIELD.search(html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    """Fetch the login form (its CSRF cookie and token) and post the credentials."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token_in(form.text)},
    )


@pytest.fixture
def client_for(dashboard: LiveDashboard) -> Iterator[Callable[[str], httpx.Client]]:
    """Makes HTTP clients signed in as a given user (redirects not followed)."""
    clients: list[httpx.Client] = []

    def make(email: str) -> httpx.Client:
        client = httpx.Client(base_url=dashboard.base_url, timeout=30)
        clients.append(client)
        assert sign_in(client, email).status_code == 303
        return client

    yield make
    for client in clients:
        client.close()
