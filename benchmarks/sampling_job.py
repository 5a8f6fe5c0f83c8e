"""The daily jobs at scale on this CPU, against an embedded chDB store in a temp directory.

1. Sampling: ``--traces`` RAG traces (a retrieval and an LLM span each) stored in the last
   day, a rule sampling ``--rate`` of the LLM spans; planning (the sample drawn in ClickHouse)
   is timed, then judge batches run in-process with the rule's evaluator until
   ``--judge-budget-s`` is spent: judged items/s and the projected wall time of the whole run.
2. Drift: ``--drift-spans`` spans over two days (the current day's latency and tokens
   shifted); the wall time of one drift report (queries + tests), target < 5 s.

    .venv/bin/python benchmarks/sampling_job.py [--traces 100000] [--rate 0.01]
        [--evaluator hallucination.rag] [--judge-budget-s 120] [--drift-spans 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.config import Settings
from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
from haloscope.platform.jobs import sampling
from haloscope.platform.jobs.drift_job import DriftWindows, compute_drift
from haloscope.platform.jobs.rules import RuleSpec, create_rule
from haloscope.platform.jobs.runtime import JobRuntime
from haloscope.platform.store import TraceStore, open_store

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


def bench_sampling(runtime: JobRuntime, project_id: str, args: argparse.Namespace) -> None:
    """Plan a run of a ``rate`` rule over the last day, then judge within the time budget."""
    now = datetime.now(UTC)
    seconds = generate(runtime.store, project_id, args.traces, now - timedelta(days=1))
    print(f"stored {args.traces:,} traces ({2 * args.traces:,} spans) in {seconds:.1f} s")
    with runtime.sessionmaker() as session:
        spec = RuleSpec(
            name="daily",
            filters={"kinds": ["llm"]},
            sample_rate=args.rate,
            evaluators=({"name": args.evaluator, "version": None, "config": {}},),
            max_items_per_run=args.traces,
            batch_size=args.batch_size,
        )
        rule = create_rule(session, project_id, spec)
        run = sampling.start_run(session, rule, "benchmark", now=now)
        session.commit()
        run_id = run.id
    began = time.perf_counter()
    batch_ids = sampling.plan_run(runtime, run_id)
    planning_s = time.perf_counter() - began
    with runtime.sessionmaker() as session:
        selected = session.get(sampling.SamplingRun, run_id).selected
    print(f"planning: {selected:,} spans sampled, {len(batch_ids)} batches in {planning_s:.2f} s")

    judged, judge_s = 0, 0.0
    for batch_id in batch_ids:
        if judge_s >= args.judge_budget_s:
            break
        began = time.perf_counter()
        outcome = sampling.judge_batch(runtime, batch_id)
        judge_s += time.perf_counter() - began
        judged += outcome.scored + outcome.failed
    rate = judged / judge_s if judge_s else 0.0
    print(f"judging ({args.evaluator}): {judged:,} items in {judge_s:.1f} s = {rate:.2f} items/s")
    if rate:
        total = planning_s + selected / rate
        print(f"projected daily run: {total:.0f} s wall ({total / 60:.1f} min) for {selected:,}")


def bench_drift(store: TraceStore, project_id: str, spans: int) -> None:
    """One drift report over ``spans`` spans split between two days."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=0.01)
    parser.add_argument("--evaluator", default="hallucination.rag")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--judge-budget-s", type=float, default=120.0)
    parser.add_argument("--drift-spans", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(data_dir=Path(directory), store="chdb")
        store = open_store(settings)
        store.migrate()
        url = f"sqlite:///{Path(directory) / 'haloscope.db'}"
        upgrade_database(url)
        sessions = make_sessionmaker(make_engine(url))
        with sessions() as session:
            sampled = create_project(session, "bench-sampling").id
            drifting = create_project(session, "bench-drift").id
            session.commit()
        if args.drift_spans:
            bench_drift(store, drifting, args.drift_spans)
        if args.traces:
            bench_sampling(JobRuntime(settings, store, sessions), sampled, args)
        store.close()


if __name__ == "__main__":
    main()
