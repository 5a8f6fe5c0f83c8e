"""The live API fixture: the real app under uvicorn on loopback, in a thread of the pytest
process (chDB allows one store per process, so the server shares the session ``chdb_store``),
with a migrated SQLite metadata DB. Each test creates its own project and key pair."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from haloscope.platform.api.app import create_app
from haloscope.platform.auth.api_keys import create_api_key, create_project
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.ingest.writer import SpanWriter
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class ProjectKeys:
    """A project and one issued key pair."""

    project_id: str
    key_id: str
    public_key: str
    secret_key: str

    @property
    def basic_auth(self) -> tuple[str, str]:
        """``(public, secret)`` for httpx's ``auth=``."""
        return (self.public_key, self.secret_key)

    @property
    def bearer_header(self) -> dict[str, str]:
        """The key pair as an ``Authorization: Bearer public:secret`` header."""
        return {"Authorization": f"Bearer {self.public_key}:{self.secret_key}"}


@dataclass
class LiveApi:
    """A running API: its URL, app, store and metadata sessions."""

    base_url: str
    app: FastAPI
    store: TraceStore
    sessionmaker: sessionmaker[Session]

    @property
    def writer(self) -> SpanWriter:
        """The app's span writer."""
        return self.app.state.haloscope.writer

    def new_project(self, name: str | None = None) -> ProjectKeys:
        """Create a project with a fresh key pair."""
        with self.sessionmaker() as session:
            project = create_project(session, name or f"test-{uuid.uuid4().hex[:12]}")
            issued = create_api_key(session, project.id)
            session.commit()
            return ProjectKeys(
                str(project.id), str(issued.id), issued.public_key, issued.secret_key
            )

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every accepted span is written to the store."""
        assert self.writer.flush(timeout), "span writer did not flush in time"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_in_thread(app: FastAPI, timeout_s: float = 30.0) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a thread; yield its base URL.

    Leaving the block shuts the server down, running the app's lifespan shutdown."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout_s)


@pytest.fixture(scope="session")
def api_metadata(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, sessionmaker[Session]]:
    """A migrated SQLite metadata DB for the live API: its URL and a sessionmaker."""
    url = f"sqlite:///{tmp_path_factory.mktemp('api-metadata') / 'haloscope.db'}"
    upgrade_database(url)
    return url, make_sessionmaker(make_engine(url))


@contextmanager
def running_api(
    settings: Settings,
    store: TraceStore,
    metadata: tuple[str, sessionmaker[Session]],
    **overrides: Any,
) -> Iterator[LiveApi]:
    """The real API on 127.0.0.1 over ``store`` and the ``metadata`` DB; key checks are not
    cached, so a revoked key is refused at once, and ingest converts inline (tests of the worker
    processes ask for them). ``overrides`` change settings (e.g. limits)."""
    url, sessions = metadata
    settings = settings.replace(
        **{
            "database_url": url,
            "write_flush_interval_s": 0.05,
            "auth_cache_ttl_s": 0.0,
            "rate_limit_per_s": 0,
            "ingest_workers": 0,
            **overrides,
        }
    )
    app = create_app(settings, store=store, sessionmaker=sessions)
    with serve_in_thread(app) as base_url:
        yield LiveApi(base_url, app, store, sessions)


@pytest.fixture(scope="session")
def live_api(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    api_metadata: tuple[str, sessionmaker[Session]],
) -> Iterator[LiveApi]:
    """The real API over the session chDB store, without a rate limit."""
    with running_api(chdb_settings, chdb_store, api_metadata) as api:
        yield api
