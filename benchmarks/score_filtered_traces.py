"""Score-filtered trace list latency over a large store: ``GET /api/v1/traces`` filtered on a
score name and value range against the unfiltered list (the baseline), in the same run.

Seeds ``--spans`` spans (default 10M: the traces of ``benchmarks/dashboard.py``, five spans
each over 30 days) and ``--scores`` scores (default 1M) into a fresh chDB store with
ClickHouse's own ``INSERT ... SELECT FROM numbers()`` (every value derived from the row
number; far faster than the API, whose throughput ``benchmarks/score_ingest.py`` measures).
The scores sit on every k-th trace (k = traces x 4 / scores), four per scored trace, as the
score API and the judge write them: a judge ``hallucination.rag`` score on the trace's LLM span
(numeric, labelled), and three human ``annotation`` scores on the trace: ``quality`` (numeric,
uniform over 0.00-1.00), ``helpful`` (boolean) and ``tone`` (categorical, value 0).

Then it times each listing ``--runs`` times (after one warm-up) through the real app
(in-process ASGI client, the key pair's project) and prints p50/p95 per listing, and p95 over
the baseline's p95.

    .venv/bin/python benchmarks/score_filtered_traces.py --spans 10000000 --scores 1000000

``--data-dir DIR`` keeps the store in ``DIR`` and reuses it (seeding is skipped when the
project exists there).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from haloscope.platform.api.app import create_app
from haloscope.platform.auth.api_keys import (
    create_api_key,
    create_project,
    get_project_by_name,
)
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.store import TraceStore, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard import CHUNK_TRACES, DAYS, SEED_SPANS_SQL, SPANS_PER_TRACE, measure  # noqa: E402

SCORES_PER_TRACE = 4
# Score k of scored trace n (n a multiple of the stride); the judge's targets the LLM span
# (span j = 3 of the dashboard seed, which starts 120 ms after the trace).
SEED_SCORES_SQL = """
INSERT INTO scores (project_id, trace_id, span_id, timestamp, name, evaluator_version, value,
    label, reason, source, score_id, value_type, string_value, comment, author)
SELECT
    {project_id:String},
    lower(hex(MD5(toString(n)))),
    if(k = 0, lower(hex(cityHash64(n, 3))), ''),
    fromUnixTimestamp64Micro(t0 + if(k = 0, 120000, 0)),
    ['hallucination.rag', 'quality', 'helpful', 'tone'][k + 1],
    if(k = 0, 'v2', ''),
    multiIf(k = 0, (n % 97) / 96, k = 1, (cityHash64(n, 7) % 101) / 100, k = 2, b, 0),
    if(k = 0, if(n % 97 >= 48, 'hallucinated', 'faithful'), ''),
    if(k = 0, 'The answer states a fact the context does not support.', ''),
    if(k = 0, 'judge', 'annotation'),
    if(k = 0, '', lower(hex(MD5(concat(toString(n), '-', toString(k)))))),
    ['numeric', 'numeric', 'boolean', 'categorical'][k + 1],
    multiIf(k = 2, if(b = 1, 'true', 'false'), k = 3, ['polite', 'curt', 'rude'][n % 3 + 1],
            ''),
    if(k = 0, '', 'Seeded by benchmarks/score_filtered_traces.py'),
    if(k = 0, '', concat('reviewer-', toString(n % 7)))
FROM (
    SELECT number * {stride:UInt64} AS n,
           {start_us:Int64} + intDiv(n * {span_us:Int64}, {traces:Int64}) AS t0,
           cityHash64(n, 11) % 2 AS b
    FROM numbers({first:UInt64}, {count:UInt64})
)
ARRAY JOIN range(4) AS k
"""
DAY_US = 86_400_000_000


def seed(store: TraceStore, project_id: str, spans: int, scores: int) -> float:
    """Insert ``spans`` spans and ``scores`` scores; returns seconds taken."""
    traces = max(spans // SPANS_PER_TRACE, 1)
    scored = max(min(scores // SCORES_PER_TRACE, traces), 1)
    end_us = int(time.time() * 1_000_000)
    span_us = DAYS * DAY_US
    common = {"project_id": project_id, "start_us": end_us - span_us, "span_us": span_us}
    started = time.perf_counter()
    for first in range(0, traces, CHUNK_TRACES):
        count = min(CHUNK_TRACES, traces - first)
        store.driver.execute(
            SEED_SPANS_SQL, {**common, "traces": traces, "first": first, "count": count}
        )
    for first in range(0, scored, CHUNK_TRACES):
        count = min(CHUNK_TRACES, scored - first)
        store.driver.execute(
            SEED_SCORES_SQL,
            {
                **common,
                "traces": traces,
                "stride": traces // scored,
                "first": first,
                "count": count,
            },
        )
    return time.perf_counter() - started


def open_project(settings: Settings, spans: int, scores: int) -> tuple[TraceStore, object, str]:
    """The store, the metadata sessions and the bench key's ``public:secret``."""
    upgrade_database(settings.resolved_database_url)
    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    store = open_store(settings)
    store.migrate()
    with sessions.begin() as db:
        project = get_project_by_name(db, "bench-scores")
        fresh = project is None
        if fresh:
            project = create_project(db, "bench-scores")
        issued = create_api_key(db, project.id)
        project_id, key = project.id, f"{issued.public_key}:{issued.secret_key}"
    if fresh:
        seconds = seed(store, project_id, spans, scores)
        print(f"seeded in {seconds:.1f} s", flush=True)
    else:
        print(f"reusing the seeded store in {settings.data_dir}", flush=True)
    counts = {
        table: store.driver.query(f"SELECT count() AS n FROM {table}")[0]["n"]  # noqa: S608
        for table in ("spans", "scores")
    }
    print(f"{counts['spans']:,} spans, {counts['scores']:,} scores", flush=True)
    return store, sessions, key


def listings(now_us: int) -> dict[str, dict[str, str]]:
    """The listings timed, the unfiltered 7-day list (the baseline) first."""
    week = {"start": str(now_us - 7 * DAY_US), "end": str(now_us), "limit": "50"}
    day = {**week, "start": str(now_us - DAY_US)}
    return {
        "unfiltered, 7 days (baseline)": week,
        "unfiltered, 24 hours": day,
        "quality >= 0.8, 7 days": {**week, "score_name": "quality", "score_min": "0.8"},
        "quality in [0.5, 0.6], 24 hours": {
            **day,
            "score_name": "quality",
            "score_min": "0.5",
            "score_max": "0.6",
        },
        "quality >= 0.99 (rare), 7 days": {**week, "score_name": "quality", "score_min": "0.99"},
        "helpful (boolean) = true, 7 days": {**week, "score_name": "helpful", "score_min": "1"},
        "hallucination.rag >= 0.5, 7 days": {
            **week,
            "score_name": "hallucination.rag",
            "score_min": "0.5",
        },
        "tone (any value), 7 days": {**week, "score_name": "tone"},
        "no such score, 7 days": {**week, "score_name": "missing"},
    }


def run(settings: Settings, spans: int, scores: int, runs: int) -> None:
    store, sessions, key = open_project(settings, spans, scores)
    app = create_app(
        settings.replace(rate_limit_per_s=0, ingest_workers=0), store=store, sessionmaker=sessions
    )
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        print(f"{runs} runs per listing (after a warm-up), 50 traces per page")
        print(
            f"{'listing':36} {'traces':>6} {'p50 ms':>8} {'p95 ms':>8} {'p95/baseline':>13}  load"
        )
        baseline = None
        for name, params in listings(int(time.time() * 1_000_000)).items():
            path = f"/api/v1/traces?{urlencode(params)}"
            p50, p95 = measure(client, path, runs)
            found = len(client.get(path).json()["data"])
            baseline = baseline or p95
            print(
                f"{name:36} {found:6} {p50:8.1f} {p95:8.1f} {p95 / baseline:12.1f}x  "
                f"{os.getloadavg()[0]:.1f}",
                flush=True,
            )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=10_000_000, help="spans to seed")
    parser.add_argument("--scores", type=int, default=1_000_000, help="scores to seed")
    parser.add_argument("--runs", type=int, default=20, help="timed listings of each kind")
    parser.add_argument("--data-dir", type=Path, help="keep (and reuse) the seeded store here")
    args = parser.parse_args()
    if args.data_dir is not None:
        run(Settings(data_dir=args.data_dir, store="chdb"), args.spans, args.scores, args.runs)
        return
    with tempfile.TemporaryDirectory(prefix="haloscope-score-filter-bench-") as tmp:
        run(Settings(data_dir=Path(tmp), store="chdb"), args.spans, args.scores, args.runs)


if __name__ == "__main__":
    main()
