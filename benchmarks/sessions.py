"""Sessions, users and release/prompt grouping over a realistic store, against the plain trace
list in the same run.

Seeds ``--spans`` spans (default 1M: the dashboard benchmark's traces of 5 spans over 30 days
and its scores, with ``--users`` users (default 10,000), sessions of 4 traces, 3 releases, a
prompt name and version on the two LLM spans of each trace) into a fresh chDB store with
ClickHouse's own ``INSERT ... SELECT FROM numbers()``, then times each request through the
real app (API + dashboard, signed in, in-process ASGI client). Every round runs each request
once, in the same order, so the baseline (the trace list page of the same 7 days) and the new
reads see the same load; the table gives p50/p95 server time and p50 over the baseline's p50.

    .venv/bin/python benchmarks/sessions.py --spans 1000000 --users 10000 --runs 15

``--data-dir DIR`` keeps the store in ``DIR`` and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from dashboard import (  # benchmarks/dashboard.py
    PASSWORD,
    SEED_SPANS_SQL,
    seed,
    sign_in,
    store_settings,
)
from fastapi.testclient import TestClient
from haloscope.platform.api.app import create_app
from haloscope.platform.auth.api_keys import create_api_key, create_project, get_project_by_name
from haloscope.platform.auth.users import add_member, create_user
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.store import TraceStore, open_store
from haloscope.web import mount_dashboard
from sqlalchemy.orm import sessionmaker

DAY_US = 86_400 * 1_000_000

# The dashboard benchmark's spans (benchmarks/dashboard.py), with --users users whose sessions
# hold 4 traces each, 3 releases, and a prompt name and version in the LLM spans' metadata
# (every span has a tenant).
SEED_CHANGES = {
    "user_id, release, tags)": "user_id, release, tags, metadata)",
    "concat('sess-', toString(intDiv(n, 3)))": "concat('sess-', toString(intDiv(n, 4)))",
    "concat('user-', toString(n % 5000))": (
        "concat('user-', toString(intDiv(n, 4) % {users:UInt64}))"
    ),
    "if(n % 2 = 0, 'v1.3.0', 'v1.4.0')": "['v1.2.0', 'v1.3.0', 'v1.4.0'][n % 3 + 1]",
    "if(n % 3 = 0, ['prod', 'rag'], ['prod'])": (
        "if(n % 3 = 0, ['prod', 'rag'], ['prod']),"
        " if(j >= 3,"
        " map('prompt.name', ['support', 'faq', 'refunds', 'orders', 'triage'][n % 5 + 1],"
        " 'prompt.version', toString(1 + n % 3), 'tenant', concat('t', toString(n % 50))),"
        " map('tenant', concat('t', toString(n % 50))))"
    ),
}


def seed_sql() -> str:
    """SEED_SPANS_SQL of the dashboard benchmark with SEED_CHANGES made (each must apply)."""
    sql = SEED_SPANS_SQL
    for old, new in SEED_CHANGES.items():
        assert old in sql, f"the dashboard benchmark's seed no longer has {old!r}"
        sql = sql.replace(old, new)
    return sql


def open_project(
    settings: Settings, spans: int, users: int
) -> tuple[TraceStore, sessionmaker, str, tuple[str, str]]:
    """The store, metadata sessions and the seeded project's id (and key pair)."""
    upgrade_database(settings.resolved_database_url)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    store = open_store(settings)
    store.migrate()
    with sessions.begin() as db:
        project = get_project_by_name(db, "sessions-bench")
        if project is None:
            project = create_project(db, "sessions-bench")
            user = create_user(db, "bench@example.com", PASSWORD)
            add_member(db, user.id, project.id, "owner")
            fresh = True
        else:
            fresh = False
            print(f"reusing the seeded store in {settings.data_dir}", flush=True)
        key = create_api_key(db, project.id, note="benchmark")
        project_id, auth = project.id, (key.public_key, key.secret_key)
    if fresh:
        seconds = seed(store, project_id, spans, seed_sql(), {"users": users})
        stored = store.driver.query("SELECT count() AS n FROM spans")[0]["n"]
        print(f"seeded {stored:,} spans in {seconds:.1f} s", flush=True)
    return store, sessions, project_id, auth


def timed(call: Callable[[], object]) -> float:
    """Milliseconds one call takes."""
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def run(settings: Settings, spans: int, users: int, runs: int) -> None:
    """Seed (or reuse) the store, then time the requests round by round."""
    store, sessions, project_id, auth = open_project(settings, spans, users)
    app = create_app(settings, store=store, sessionmaker=sessions)
    mount_dashboard(app, settings=settings, store=store, sessionmaker=sessions)
    with TestClient(app) as page_client, TestClient(app) as api_client:
        sign_in(page_client, "bench@example.com")
        api_client.auth = auth
        base = f"/projects/{project_id}"
        top = api_client.get("/api/v1/users", params={"sort": "traces_desc", "limit": 1})
        heavy_user = top.json()["data"][0]["user_id"]
        a_session = api_client.get("/api/v1/sessions", params={"limit": 1}).json()["data"][0]
        now_us = int(time.time() * 1_000_000)
        week = f"start={now_us - 7 * DAY_US}&end={now_us}"
        month = f"start={now_us - 30 * DAY_US}&end={now_us}"
        one_session = a_session["session_id"]
        api, page = api_client, page_client
        requests = {
            # Baselines: the trace list's newest page (read in time windows) and a whole-range
            # aggregate (sorted by cost), the work a users or sessions list does.
            "page traces, 7 d (baseline)": (page, f"{base}/traces"),
            "API trace list, 7 d": (api, f"/api/v1/traces?{week}"),
            "API trace list, 7 d, by cost": (api, f"/api/v1/traces?{week}&sort=cost_desc"),
            "API users, 7 d, last seen": (api, f"/api/v1/users?{week}"),
            "API users, 7 d, by cost": (api, f"/api/v1/users?{week}&sort=cost_desc"),
            "API users, 30 d, by traces": (api, f"/api/v1/users?{month}&sort=traces_desc"),
            "API sessions, 7 d": (api, f"/api/v1/sessions?{week}"),
            "API sessions of one user, 7 d": (api, f"/api/v1/sessions?{week}&user_id={heavy_user}"),
            "API one session (all time)": (api, f"/api/v1/sessions/{one_session}"),
            "API one user, 7 d": (api, f"/api/v1/users/{heavy_user}?{week}"),
            "API metrics by day, 7 d": (api, f"/api/v1/metrics?{week}&group_by=day"),
            "API metrics by release, 7 d": (api, f"/api/v1/metrics?{week}&group_by=release"),
            "API metrics by prompt+version, 7 d": (
                api,
                f"/api/v1/metrics?{week}&group_by=prompt_name,prompt_version",
            ),
            "API traces, 2 metadata filters, 7 d": (
                api,
                f"/api/v1/traces?{week}&metadata=prompt.name%3Drefunds&metadata=tenant%3Dt7",
            ),
            "API traces, latency+cost, 7 d": (
                api,
                f"/api/v1/traces?{week}&min_latency_ms=800&max_cost=0.003",
            ),
            "page users, 7 d": (page, f"{base}/users"),
            "page sessions, 7 d": (page, f"{base}/sessions"),
            "page one session": (page, f"{base}/sessions/{one_session}"),
            "page releases and prompts, 7 d": (page, f"{base}/releases"),
        }
        for client, path in requests.values():  # warm-up, and every answer must be a 200
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
        times: dict[str, list[float]] = {name: [] for name in requests}
        loads = []
        for _ in range(runs):
            for name, (client, path) in requests.items():
                times[name].append(timed(lambda c=client, p=path: c.get(p)))
            loads.append(os.getloadavg()[0])
    store.close()
    report(times, loads, spans, users, runs)


def report(
    times: dict[str, list[float]], loads: list[float], spans: int, users: int, runs: int
) -> None:
    """p50 and p95 per request and p50 over the first request's p50."""
    print(f"{spans:,} spans, {users:,} users, {runs} rounds, load average "
          f"{min(loads):.1f}-{max(loads):.1f} (the machine is shared: compare ratios)")  # fmt: skip
    print(f"{'request':40} {'p50 ms':>8} {'p95 ms':>8} {'p50/baseline':>13}")
    baseline = None
    for name, values in times.items():
        values.sort()
        p50 = statistics.median(values)
        p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
        baseline = baseline or p50
        print(f"{name:40} {p50:8.1f} {p95:8.1f} {p50 / baseline:12.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans to seed")
    parser.add_argument("--users", type=int, default=10_000, help="distinct users")
    parser.add_argument("--runs", type=int, default=15, help="timed rounds")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the seeded store here")
    args = parser.parse_args()
    with store_settings(args.data_dir, "haloscope-sessions-bench-") as settings:
        run(settings, args.spans, args.users, args.runs)


if __name__ == "__main__":
    main()
