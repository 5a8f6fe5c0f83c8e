"""The daily jobs at scale on this CPU, against an embedded chDB store in a temp directory.

1. Drift: ``--drift-spans`` spans over two days (the current day's latency and tokens
   shifted); the wall time of one drift report without and with the input-embedding feature
   (200 sampled LLM span inputs per window, all-MiniLM-L6-v2), target < 5 s for the former.
2. The daily sampling run end to end: ``--traces`` RAG traces (a retrieval and an LLM span
   each) stored in the last day and a rule sampling ``--rate`` of the LLM spans with the real
   judge (``--evaluator``, the SmolLM2 engine); the run goes through the real task code path
   (``start_sampling_run`` -> ``haloscope.plan_sampling_run`` -> ``haloscope.judge_batch``)
   on the embedded worker of ``haloscope up`` (SQLite broker, thread pool). Prints the wall
   time from enqueueing to completion and judged items/s.

    .venv/bin/python benchmarks/sampling_job.py [--traces 100000] [--rate 0.01]
        [--evaluator hallucination.rag] [--drift-spans 1000000] [--timeout-s 1800]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from haloscope.evaluators import Resources
from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.db.models import SamplingRun
from haloscope.platform.jobs.drift_job import INPUT_EMBEDDING, DriftWindows, compute_drift
from haloscope.platform.jobs.embedded import start_embedded_jobs
from haloscope.platform.jobs.rules import RuleSpec, create_rule
from haloscope.platform.jobs.tasks import start_sampling_run
from haloscope.platform.store import TraceStore, open_store
from sqlalchemy.orm import Session, sessionmaker

DAY_US = 86_400_000_000
# Two spans per trace (k = 0 retrieval, k = 1 LLM answer), spread evenly over the window;
# 1% errors; ``shift`` scales the LLM latency and tokens of the generated rows.
SYNTHETIC_SPANS_SQL = """
    INSERT INTO spans (project_id, trace_id, span_id, name, kind, start_time, end_time, status,
                       input, output, documents, model, total_tokens, cost)
    SELECT
        {project_id:String},
        lower(hex(cityHash64(number, {salt:UInt64}))) AS trace_id,
        lower(hex(cityHash64(number, {salt:UInt64}, k))) AS span_id,
        if(k = 0, 'retrieve', 'generate'),
        if(k = 0, 'retrieval', 'llm'),
        fromUnixTimestamp64Micro(
            {start_us:Int64} + toInt64(number * {step_us:Float64}) + k * 30000, 'UTC'
        ) AS start_time,
        start_time + toIntervalMicrosecond(
            toInt64((200000 + cityHash64(number, 3) % 800000) * if(k = 1, {shift:Float64}, 1))
        ),
        if(cityHash64(number, 4) % 100 = 0, 'error', 'ok'),
        concat('{"question": "Where is the Eiffel Tower? (', toString(number), ')"}'),
        if(k = 1, '"The Eiffel Tower is in Paris."', ''),
        if(k = 0, '[{"id": "d1", "content": "The Eiffel Tower is in Paris, France."}]', ''),
        if(k = 1, 'gpt-4o-mini', ''),
        toUInt32(if(k = 1, (600 + cityHash64(number, 5) % 400) * {shift:Float64}, 0)),
        if(k = 1, 2e-7 * (600 + cityHash64(number, 5) % 400), 0)
    FROM numbers({traces:UInt64}) ARRAY JOIN [0, 1] AS k
"""


def generate(
    store: TraceStore, project_id: str, traces: int, start: datetime, *, shift: float = 1.0
) -> float:
    """Store ``traces`` synthetic traces over the day after ``start``; seconds taken."""
    began = time.perf_counter()
    store.driver.execute(
        SYNTHETIC_SPANS_SQL,
        {
            "project_id": project_id,
            "salt": int(start.timestamp()),
            "start_us": int(start.timestamp() * 1_000_000),
            "step_us": (DAY_US - 60_000_000) / traces,
            "shift": shift,
            "traces": traces,
        },
    )
    return time.perf_counter() - began


def bench_sampling(
    settings: Settings,
    store: TraceStore,
    sessions: sessionmaker[Session],
    project_id: str,
    args: argparse.Namespace,
) -> None:
    """Store the traces, then run a ``rate`` rule's daily run on the embedded worker."""
    now = datetime.now(UTC)
    seconds = generate(store, project_id, args.traces, now - timedelta(days=1))
    print(f"stored {args.traces:,} traces ({2 * args.traces:,} spans) in {seconds:.1f} s")
    with sessions() as session:
        spec = RuleSpec(
            name="daily",
            filters={"kinds": ["llm"]},
            sample_rate=args.rate,
            evaluators=({"name": args.evaluator, "version": None, "config": {}},),
            max_items_per_run=args.traces,
            batch_size=args.batch_size,
        )
        rule = create_rule(session, project_id, spec)
        session.commit()
    jobs = start_embedded_jobs(settings, store)
    try:
        began = time.perf_counter()
        run_id = start_sampling_run(jobs.app, sessions, rule, "benchmark")
        run = _wait_for_run(sessions, run_id, began, args.timeout_s)
        wall_s = time.perf_counter() - began
    finally:
        jobs.stop()
    judged = run.scored + run.failed
    print(
        f"daily run ({args.evaluator}, rate {args.rate}): {run.status}, {run.selected:,} "
        f"sampled, {run.scored:,} scored, {run.failed} failed, {run.batches_total} batches"
    )
    print(
        f"wall {wall_s:.1f} s from enqueue to completion = {judged / wall_s:.2f} judged items/s "
        f"(judge time {run.judge_seconds:.1f} s)"
    )


def _wait_for_run(
    sessions: sessionmaker[Session], run_id: str, began: float, timeout_s: float
) -> SamplingRun:
    """Poll the run until it is no longer running, printing its progress every 30 s."""
    reported = began
    while True:
        with sessions() as session:
            run = session.get(SamplingRun, run_id)
            assert run is not None
        now = time.perf_counter()
        if run.status != "running" or now - began > timeout_s:
            return run
        if now - reported >= 30:
            reported = now
            print(f"  {now - began:.0f} s: {run.batches_done}/{run.batches_total} batches")
        time.sleep(0.5)


def bench_drift(store: TraceStore, project_id: str, spans: int) -> None:
    """Drift reports over ``spans`` spans split between two days, with and without the
    input-embedding feature."""
    now = datetime.now(UTC).replace(microsecond=0)
    traces_per_day = spans // 4
    windows = DriftWindows.previous(now, hours=24)
    generate(store, project_id, traces_per_day, windows.baseline_start)
    generate(store, project_id, traces_per_day, windows.current_start, shift=1.5)
    timings = []
    for _ in range(3):
        began = time.perf_counter()
        report = compute_drift(store, project_id, windows)
        timings.append(time.perf_counter() - began)
    print(
        f"drift report over {4 * traces_per_day:,} spans: best {min(timings):.2f} s, "
        f"worst {max(timings):.2f} s (target < 5 s); drifted: {report.drifted}"
    )
    embedder = Resources().embedder
    embedder.encode(["warm-up"])
    began = time.perf_counter()
    report = compute_drift(store, project_id, windows, embedder=embedder)
    feature = report.features[INPUT_EMBEDDING]
    print(
        f"with input embeddings ({feature.n_reference} + {feature.n_current} inputs, MiniLM on "
        f"{embedder.device}): {time.perf_counter() - began:.2f} s; input_embedding "
        f"{feature.status} (MMD p = {feature.p_value:.3g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--evaluator", default="hallucination.rag")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--timeout-s", type=float, default=1800.0)
    parser.add_argument("--drift-spans", type=int, default=1_000_000)
    args = parser.parse_args()
    # Task failures and retries of the embedded worker are logged at WARNING and above.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'haloscope.db'}"
        settings = Settings(data_dir=Path(directory), store="chdb", database_url=url)
        store = open_store(settings)
        store.migrate()
        upgrade_database(url)
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as session:
            sampled = create_project(session, "bench-sampling").id
            drifting = create_project(session, "bench-drift").id
            session.commit()
        if args.drift_spans:
            bench_drift(store, drifting, args.drift_spans)
        if args.traces:
            bench_sampling(settings, store, sessions, sampled, args)
        store.close()


if __name__ == "__main__":
    main()
