"""Real processes the fault tests break on purpose: a ClickHouse HTTP endpoint (chDB-backed)
and a ``haloscope serve`` API, each restartable on the same port and data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from haloscope.platform.auth.api_keys import create_api_key, create_project
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.store import TraceStore, open_store

from tests.api.store_queries import wait_for_count
from tests.support.api_fixtures import ProjectKeys, free_port
from tests.support.store_fixtures import REPO_ROOT

START_TIMEOUT_S = 90.0


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll ``url`` until it answers 200; fail when ``process`` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} not healthy after {timeout_s}s")


class RestartableProcess:
    """A subprocess started from a fixed command line, stopped and started again at will."""

    def __init__(self, command: list[str], health_url: str, env: dict[str, str], cwd: Path):
        self.command = command
        self.health_url = health_url
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait until its health URL answers 200."""
        self.process = subprocess.Popen(self.command, env=self.env, cwd=self.cwd)
        wait_until_healthy(self.health_url, self.process, START_TIMEOUT_S)

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout_s: float = 60.0) -> None:
        """Send ``sig`` and wait for the exit (SIGKILL when it does not come in time)."""
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def clickhouse_endpoint(data_dir: Path) -> tuple[RestartableProcess, str]:
    """A chDB-backed ClickHouse HTTP endpoint on a fixed free port (not started) and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "tests.support.chdb_http_endpoint"]
    command += ["--port", str(port), "--path", str(data_dir)]
    return RestartableProcess(command, f"{url}/ping", dict(os.environ), REPO_ROOT), url


class ApiServer(RestartableProcess):
    """``haloscope serve`` over a ClickHouse endpoint and a SQLite metadata DB in ``data_dir``;
    with ``max_file_bytes`` the process cannot grow any file beyond that size (``ulimit -f``),
    as a full disk would stop it."""

    def __init__(
        self, data_dir: Path, clickhouse_url: str, *, max_file_bytes: int = 0, **settings: str
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            data_dir=data_dir, store="clickhouse", clickhouse_url=clickhouse_url
        )
        env = dict(os.environ)
        values = {
            "data_dir": str(data_dir),
            "database_url": self.settings.resolved_database_url,
            "store": "clickhouse",
            "clickhouse_url": clickhouse_url,
            "write_flush_interval_s": "0.02",
            "log_level": "warning",
            **settings,
        }
        env.update({f"HALOSCOPE_{name.upper()}": value for name, value in values.items()})
        command = [str(Path(sys.executable).with_name("haloscope")), "serve"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        if max_file_bytes:
            limit = f'ulimit -f {max_file_bytes // 1024} && exec "$@"'
            command = ["bash", "-c", limit, "haloscope-serve", *command]
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__(command, f"{self.base_url}/api/health", env, data_dir)

    def prepare(self) -> ProjectKeys:
        """Migrate the metadata DB and issue a project key pair (before the first start)."""
        url = self.settings.resolved_database_url
        upgrade_database(url)
        with make_sessionmaker(make_engine(url))() as session:
            project = create_project(session, "faults")
            issued = create_api_key(session, project.id)
            session.commit()
            return ProjectKeys(
                str(project.id), str(issued.id), issued.public_key, issued.secret_key
            )

    def open_store(self) -> TraceStore:
        """A client of the same trace store, from this process."""
        return open_store(self.settings)


def distinct_span_ids(store: TraceStore, project_id: str) -> int:
    """Distinct span ids the project has in the store (retried spans counted once)."""
    rows = store.driver.query(
        "SELECT uniqExact(span_id) AS n FROM spans WHERE project_id = {project_id:String}",
        {"project_id": project_id},
    )
    return int(rows[0]["n"])


def wait_for_distinct_span_ids(
    store: TraceStore, project_id: str, expected: int, timeout_s: float = 60.0
) -> int:
    """Poll until the project has ``expected`` distinct span ids (acknowledged spans reach the
    store within the writer's flush interval); return the last count."""
    return wait_for_count(lambda: distinct_span_ids(store, project_id), expected, timeout_s)
