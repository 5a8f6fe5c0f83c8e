"""Fixtures of the jobs tests: a throwaway Redis server, a metadata DB, RAG span factories,
Celery workers in subprocesses (against the chDB-backed ClickHouse HTTP endpoint) and a
loopback webhook server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from haloscope.evaluators.embeddings import Embedder
from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.jobs.embedded import EmbeddedJobs, start_embedded_jobs
from haloscope.platform.jobs.runtime import install_runtime
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

REPO_ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
HOUR_US = 3_600_000_000


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a redis-server on a free loopback port, without persistence; stopped at the end."""
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The packaged all-MiniLM-L6-v2 on the CPU, loaded once per test session."""
    return Embedder.default(device="cpu")


@pytest.fixture
def metadata_url(tmp_path: Path) -> str:
    """A migrated SQLite metadata DB file (shared with worker subprocesses)."""
    url = f"sqlite:///{tmp_path / 'haloscope.db'}"
    upgrade_database(url)
    return url


@pytest.fixture
def sessions(metadata_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on ``metadata_url``."""
    engine = make_engine(metadata_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def project(sessions: sessionmaker[Session]) -> str:
    """A fresh project's id."""
    with sessions() as session:
        created = create_project(session, f"jobs-{uuid.uuid4().hex[:10]}")
        session.commit()
        return created.id


def rag_trace(
    project_id: str, start_us: int, answer: str, passage: str, **llm: Any
) -> list[dict[str, Any]]:
    """A trace of a retrieval span and an LLM span answering from the retrieved passage;
    ``llm`` overrides fields of the LLM span (name, model, tags, release, metadata...)."""
    trace_id = uuid.uuid4().hex
    retrieval = {
        "project_id": project_id,
        "trace_id": trace_id,
        "span_id": uuid.uuid4().hex[:16],
        "name": "retrieve",
        "kind": "retrieval",
        "start_time": start_us,
        "end_time": start_us + 20_000,
        "input": orjson.dumps("Where is the Eiffel Tower?").decode(),
        "documents": orjson.dumps([{"id": "d1", "score": 0.9, "content": passage}]).decode(),
    }
    generation = {
        "project_id": project_id,
        "trace_id": trace_id,
        "span_id": uuid.uuid4().hex[:16],
        "parent_span_id": "",
        "name": "generate",
        "kind": "llm",
        "start_time": start_us + 30_000,
        "end_time": start_us + 900_000,
        "input": orjson.dumps({"question": "Where is the Eiffel Tower?"}).decode(),
        "output": orjson.dumps(answer).decode(),
        "model": "gpt-4o-mini",
        "prompt_tokens": 800,
        "completion_tokens": 40,
        "total_tokens": 840,
        "cost": 0.0003,
    }
    generation.update(llm)
    return [retrieval, generation]


def llm_spans(
    project_id: str, start_us: int, count: int, *, errors: int, latency_ms: int, cost: float = 0.0
) -> list[dict[str, Any]]:
    """``count`` LLM spans from ``start_us`` on, 1 ms apart, the first ``errors`` failed."""
    return [
        {
            "project_id": project_id,
            "trace_id": uuid.uuid4().hex,
            "span_id": uuid.uuid4().hex[:16],
            "name": "generate",
            "kind": "llm",
            "start_time": start_us + i * 1000,
            "end_time": start_us + i * 1000 + latency_ms * 1000,
            "status": "error" if i < errors else "ok",
            "cost": cost,
        }
        for i in range(count)
    ]


@pytest.fixture
def now_us() -> int:
    """The current time in µs."""
    return time.time_ns() // 1000


class WorkerProcess:
    """A ``celery worker`` subprocess in its own process group."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the worker on both queues with one prefork child."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "haloscope.platform.jobs.worker_app",
                "worker",
                "-Q",
                "default,judge",
                "-c",
                "1",
                "--loglevel",
                "INFO",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool children at once."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Terminate the worker if it still runs."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def log_text(self) -> str:
        """What the worker logged so far."""
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def worker_env(
    redis_url: str, clickhouse_endpoint: str, metadata_url: str, tmp_path: Path
) -> dict[str, str]:
    """Environment of a worker on Redis, the ClickHouse endpoint and the metadata DB."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALOSCOPE_")}
    env.update(
        HALOSCOPE_BROKER_URL=redis_url,
        HALOSCOPE_STORE="clickhouse",
        HALOSCOPE_CLICKHOUSE_URL=clickhouse_endpoint,
        HALOSCOPE_DATABASE_URL=metadata_url,
        HALOSCOPE_DATA_DIR=str(tmp_path / "data"),
        HALOSCOPE_JOBS_VISIBILITY_TIMEOUT_S="3",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


@pytest.fixture
def start_worker(
    worker_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[[], WorkerProcess]]:
    """Start Celery worker subprocesses (stopped at the end of the test)."""
    workers: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        worker = WorkerProcess(worker_env, tmp_path / f"worker-{len(workers)}.log")
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    """Poll ``condition`` until it returns a truthy value; fail with ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class Webhook:
    """A loopback HTTP server recording the JSON bodies POSTed to it; the first
    ``failures`` requests are answered 500."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                failing = hook.failures > 0
                hook.failures -= 1
                if not failing:
                    hook.bodies.append(json.loads(body))
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A webhook server that answers 2xx."""
    hook = Webhook()
    yield hook
    hook.close()


@pytest.fixture
def embedded(
    chdb_settings: Settings,
    chdb_store: TraceStore,
    metadata_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EmbeddedJobs]:
    """Embedded jobs on a SQLite broker in a fresh data dir; the CLI sees the same config."""
    data_dir = tmp_path / "data"
    settings = chdb_settings.replace(data_dir=data_dir, database_url=metadata_url)
    monkeypatch.setenv("HALOSCOPE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("HALOSCOPE_DATABASE_URL", metadata_url)
    monkeypatch.delenv("HALOSCOPE_BROKER_URL", raising=False)
    jobs = start_embedded_jobs(settings, chdb_store)
    yield jobs
    jobs.stop()
    install_runtime(None)
