"""Sustained load: ingest, dashboard and query API calls, and sampling jobs, all at once.

Starts ``haloscope up`` (API + dashboard + embedded jobs over a fresh chDB store) as a
subprocess, then for ``--minutes``:

* ingest: ``--clients`` threads POST gzip SDK batches of ``--batch`` new spans, paced to
  ``--rate`` spans/s in total (every request retried on 429/503 until acknowledged);
* reads: a signed-in thread cycles through the trace list, a trace, the metrics API and the
  dashboard's overview and trace pages;
* jobs: a sampling rule (the deterministic ``json_valid`` evaluator, so the figure is the
  platform's, not a judge model's) is run every ``--sampling-every`` seconds;
* the server's RSS is sampled every 5 s.

It prints spans/s, p50/p95 latency per endpoint group, RSS at start/mid/end with its growth,
and the load average; then stops the server and checks, on the store itself, that the stored
span count equals what was acknowledged and that each sampling run's score rows equal the
``scored`` count the run reported.

    .venv/bin/python benchmarks/load.py --minutes 10 [--rate 2000] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from dashboard import PASSWORD, sign_in
from haloscope.platform.auth.api_keys import create_api_key, create_project
from haloscope.platform.auth.users import add_member, create_user
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.store import open_store
from ingest import free_port, sdk_batches, wait_http

REPO = Path(__file__).resolve().parents[1]
EMAIL = "load@example.com"
RSS_EVERY_S = 5.0
READ_PAUSE_S = 0.25


class Latencies:
    """Request latencies (ms) by endpoint group, shared by the load threads."""

    def __init__(self) -> None:
        self._by_group: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def timed(
        self, group: str, call: Callable[..., httpx.Response], *args: Any, **kwargs: Any
    ) -> httpx.Response:
        """Run ``call(*args, **kwargs)`` and record its wall time under ``group``."""
        started = time.perf_counter()
        response = call(*args, **kwargs)
        with self._lock:
            self._by_group[group].append((time.perf_counter() - started) * 1000)
        return response

    def report(self) -> None:
        """Print count, p50 and p95 of every group."""
        print(f"{'endpoint group':24} {'requests':>9} {'p50 ms':>8} {'p95 ms':>8}")
        with self._lock:
            for group, times in sorted(self._by_group.items()):
                ordered = sorted(times)
                p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
                print(f"{group:24} {len(ordered):9d} {statistics.median(ordered):8.1f} {p95:8.1f}")


def prepare(settings: Settings) -> tuple[str, tuple[str, str]]:
    """Migrate the metadata DB; create the project, its key pair and a signed-in member."""
    upgrade_database(settings.resolved_database_url)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    with sessions.begin() as db:
        project = create_project(db, "load")
        key = create_api_key(db, project.id)
        user = create_user(db, EMAIL, PASSWORD)
        add_member(db, user.id, project.id, "owner")
        return project.id, (key.public_key, key.secret_key)


def post_until_acknowledged(http: httpx.Client, body: bytes, latencies: Latencies) -> None:
    """POST one gzip SDK batch, honouring ``Retry-After`` on 429/503, until it is
    acknowledged (spooled, then stored within the writer's flush interval)."""
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    while True:
        response = latencies.timed(
            "ingest", http.post, "/api/v1/ingest", content=body, headers=headers
        )
        if response.status_code in (429, 503):
            time.sleep(float(response.headers.get("retry-after", "1")))
            continue
        if response.status_code != 200:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
        return


def ingest_loop(
    base: str,
    auth: tuple[str, str],
    args: argparse.Namespace,
    stop: threading.Event,
    latencies: Latencies,
    sent: list[int],
) -> None:
    """Send new batches at this thread's share of ``--rate`` until ``stop``."""
    interval = args.batch * args.clients / args.rate
    next_at = time.monotonic()
    with httpx.Client(base_url=base, auth=auth, timeout=120) as http:
        while not stop.is_set():
            (body,) = sdk_batches(1, args.batch)
            post_until_acknowledged(http, body, latencies)
            sent.append(args.batch)
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))


def read_loop(
    base: str,
    auth: tuple[str, str],
    project_id: str,
    stop: threading.Event,
    latencies: Latencies,
) -> None:
    """Cycle through the query API and the dashboard pages until ``stop``."""
    with (
        httpx.Client(base_url=base, auth=auth, timeout=120) as api,
        httpx.Client(base_url=base, timeout=120) as browser,
    ):
        sign_in(browser, EMAIL)
        pages = f"/projects/{project_id}"
        while not stop.is_set():
            listing = latencies.timed("api traces list", api.get, "/api/v1/traces")
            listing.raise_for_status()
            traces = listing.json()["data"]
            if traces:
                path = f"/api/v1/traces/{traces[0]['trace_id']}"
                latencies.timed("api trace detail", api.get, path).raise_for_status()
            latencies.timed("api metrics", api.get, "/api/v1/metrics").raise_for_status()
            for page in ("overview", "traces"):
                latencies.timed(
                    f"dashboard {page}", browser.get, f"{pages}/{page}"
                ).raise_for_status()
            stop.wait(READ_PAUSE_S)


def sampling_loop(
    base: str,
    auth: tuple[str, str],
    every_s: float,
    stop: threading.Event,
    latencies: Latencies,
    runs: list[dict],
) -> None:
    """Create a sampling rule, then run it every ``every_s`` seconds and wait for each run."""
    with httpx.Client(base_url=base, auth=auth, timeout=120) as api:
        rule = {
            "name": "load",
            "filters": {"kinds": ["llm"]},
            "sample_rate": 0.05,
            "evaluators": [{"name": "json_valid", "version": None, "config": {}}],
            "max_items_per_run": 500,
            "window_hours": 24,
        }
        api.post("/api/v1/sampling-rules", json=rule).raise_for_status()
        while not stop.is_set():
            started = time.monotonic()
            run = latencies.timed("jobs trigger", api.post, "/api/v1/sampling-rules/load/runs")
            run.raise_for_status()
            run_id = run.json()["id"]
            while True:
                state = latencies.timed(
                    "jobs status", api.get, f"/api/v1/sampling-runs/{run_id}"
                ).json()
                if state["status"] != "running":
                    break
                time.sleep(1.0)
            runs.append(state)
            stop.wait(max(0.0, every_s - (time.monotonic() - started)))


def rss_loop(pid: int, stop: threading.Event, samples: list[tuple[float, int]]) -> None:
    """Sample the server's resident set size every ``RSS_EVERY_S`` seconds."""
    process = psutil.Process(pid)
    began = time.monotonic()
    while True:
        samples.append((time.monotonic() - began, process.memory_info().rss))
        if stop.wait(RSS_EVERY_S):
            return


def report_rss(samples: list[tuple[float, int]]) -> None:
    """RSS at start, mid and end; growth over the run and over its second half."""
    mib = 1024 * 1024
    start, mid, end = samples[0], samples[len(samples) // 2], samples[-1]
    print(
        f"server RSS: start {start[1] / mib:.0f} MiB, mid {mid[1] / mib:.0f} MiB, "
        f"end {end[1] / mib:.0f} MiB; growth {(end[1] - start[1]) / mib:+.0f} MiB over the run, "
        f"{(end[1] - mid[1]) / mib:+.0f} MiB over the second half "
        f"({(end[1] - mid[1]) / mib / max((end[0] - mid[0]) / 60, 1e-9):+.1f} MiB/min)"
    )


def verify(settings: Settings, project_id: str, sent: int, runs: list[dict]) -> bool:
    """Open the stopped server's store: spans stored == sent, score rows == scored per run."""
    store = open_store(settings)
    try:
        stored = store.driver.query(
            "SELECT count() AS n FROM spans FINAL WHERE project_id = {p:String}",
            {"p": project_id},
        )[0]["n"]
        rows = store.driver.query(
            "SELECT sampling_run_id AS run, count() AS n FROM scores FINAL "
            "WHERE project_id = {p:String} GROUP BY sampling_run_id",
            {"p": project_id},
        )
    finally:
        store.close()
    scores = {row["run"]: int(row["n"]) for row in rows}
    ok = int(stored) == sent
    print(f"spans: sent {sent:,}, stored {int(stored):,} -> {'OK' if ok else 'MISMATCH'}")
    for run in runs:
        match = scores.get(run["id"], 0) == run["scored"] and run["status"] == "completed"
        ok = ok and match
        print(
            f"sampling run {run['id']}: {run['status']}, reported {run['scored']} scored, "
            f"{scores.get(run['id'], 0)} score rows -> {'OK' if match else 'MISMATCH'}"
        )
    return ok


def run(args: argparse.Namespace, data_dir: Path) -> bool:
    """The whole benchmark over a store in ``data_dir``; True when the counts match."""
    settings = Settings(data_dir=data_dir, store="chdb")
    project_id, auth = prepare(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HALOSCOPE_DATA_DIR": str(data_dir),
        "HALOSCOPE_LOG_LEVEL": "warning",
        "HALOSCOPE_RATE_LIMIT_PER_S": "0",
    }
    command = [str(Path(sys.executable).with_name("haloscope")), "up", "--port", str(port)]
    log = data_dir / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, cwd=data_dir, stdout=output, stderr=output)
    stop = threading.Event()
    latencies, sent, runs, rss = Latencies(), [], [], []
    try:
        wait_http(f"{base}/api/health")
        threads = [
            threading.Thread(target=rss_loop, args=(server.pid, stop, rss)),
            threading.Thread(target=read_loop, args=(base, auth, project_id, stop, latencies)),
            threading.Thread(
                target=sampling_loop,
                args=(base, auth, args.sampling_every, stop, latencies, runs),
            ),
        ] + [
            threading.Thread(target=ingest_loop, args=(base, auth, args, stop, latencies, sent))
            for _ in range(args.clients)
        ]
        print(f"load average before: {os.getloadavg()}", flush=True)
        began = time.monotonic()
        for thread in threads:
            thread.start()
        stop.wait(args.minutes * 60)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - began
        print(f"load average during: {os.getloadavg()}")
    finally:
        server.send_signal(signal.SIGTERM)
        if server.wait(120) not in (0, -signal.SIGTERM):  # uvicorn re-raises the signal
            print(f"server exited with {server.returncode}; its log:\n{log.read_text()[-3000:]}")
    total = sum(sent)
    print(
        f"{args.minutes:g} min, target {args.rate:,} spans/s: {total:,} spans acknowledged "
        f"= {total / elapsed:,.0f} spans/s; {len(runs)} sampling runs"
    )
    latencies.report()
    report_rss(rss)
    return verify(settings, project_id, total, runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="duration of the load")
    parser.add_argument("--rate", type=int, default=2000, help="target ingest spans/s in total")
    parser.add_argument("--batch", type=int, default=500, help="spans per ingest request")
    parser.add_argument("--clients", type=int, default=4, help="ingest client threads")
    parser.add_argument(
        "--sampling-every", type=float, default=60.0, help="seconds between sampling runs"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="haloscope-load-") as tmp:
        ok = run(args, Path(tmp))
    print(f"load average after: {os.getloadavg()}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
