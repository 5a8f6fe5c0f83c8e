"""Trace-store fixtures: a chDB store and a clickhouse-connect store on a chDB-backed
ClickHouse HTTP endpoint, both migrated, shared by every test of a pytest process.

chDB holds one data path per process, so the in-process store (``chdb_store``) is
session-scoped and everything in this process that opens chDB must use ``chdb_settings``
(further sessions on the same path are fine). The HTTP endpoint runs in a subprocess with its
own data path. Tests keep their data apart with a fresh ``project_id``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore, open_store

REPO_ROOT = Path(__file__).resolve().parents[2]
STORE_KINDS = ("chdb", "clickhouse")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chDB HTTP endpoint exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"chDB HTTP endpoint at {url} not ready after {timeout_s}s")


@pytest.fixture(scope="session")
def chdb_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of this process's chDB store (data under a session temp dir)."""
    return Settings(data_dir=tmp_path_factory.mktemp("haloscope"), store="chdb")


@pytest.fixture(scope="session")
def chdb_store(chdb_settings: Settings) -> Iterator[TraceStore]:
    """The embedded store, migrated; one per pytest process."""
    store = open_store(chdb_settings)
    store.migrate()
    yield store
    store.close()


@pytest.fixture(scope="session")
def clickhouse_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a chDB-backed ClickHouse HTTP endpoint running in a subprocess."""
    port = _free_port()
    data = tmp_path_factory.mktemp("clickhouse-endpoint")
    command = [sys.executable, "-m", "tests.support.chdb_http_endpoint"]
    process = subprocess.Popen([*command, "--port", str(port), "--path", str(data)], cwd=REPO_ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def clickhouse_settings(clickhouse_endpoint: str) -> Settings:
    """Settings of the clickhouse-connect store on the endpoint."""
    return Settings(store="clickhouse", clickhouse_url=clickhouse_endpoint)


@pytest.fixture(scope="session")
def clickhouse_store(clickhouse_settings: Settings) -> Iterator[TraceStore]:
    """The server-driver store over HTTP, migrated."""
    store = open_store(clickhouse_settings)
    store.migrate()
    yield store
    store.close()


@pytest.fixture(params=STORE_KINDS)
def store_settings(request: pytest.FixtureRequest) -> Settings:
    """Settings of each store kind in turn."""
    return request.getfixturevalue(f"{request.param}_settings")


@pytest.fixture(params=STORE_KINDS)
def trace_store(request: pytest.FixtureRequest) -> TraceStore:
    """Each store (chdb, then clickhouse) in turn."""
    return request.getfixturevalue(f"{request.param}_store")


@pytest.fixture
def project_id() -> str:
    """A project id no other test uses."""
    return f"proj-{uuid.uuid4().hex}"
