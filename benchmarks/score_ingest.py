"""Score ingest throughput: scores/s stored through ``POST /api/v1/scores`` into the embedded
chDB store, batched against one score per request (the baseline), in the same run.

Starts the real API (uvicorn, one process, fresh data dir, no rate limit) and stores
``--traces`` traces of 5 spans through the SDK ingest route first (the scores' targets). Then
``--clients`` threads POST the scores, in this order:

1. baseline: ``--single`` scores, one per request;
2. batches of ``--batch`` scores carrying their ``timestamp`` (how the SDK's ``score()`` sends);
3. batches of ``--batch`` scores without one, each placed at its stored target's start (one
   look-up query per batch; how people and apps scoring a trace by id send).

Each run sends new scores (numeric, boolean and categorical, on traces and spans) and is timed
from the first request until ``count()`` over ``scores FINAL`` of the project equals what was
sent (the API inserts before answering, so this only confirms it). ``--repeat N`` repeats the
batched runs and prints medians.

    .venv/bin/python benchmarks/score_ingest.py --scores 100000 --batch 500 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import bench_app, parse_or_serve, send_all, served  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SPANS_PER_TRACE = 5
COMMENT = "Clear and correct, but it cites the older refund policy."


def serve(data_dir: Path, port: int) -> None:
    """Run the API on 127.0.0.1:port over a fresh store (no rate limit); print the bench
    project's keys."""
    import uvicorn

    app, store, keys = bench_app(data_dir, port, rate_limit_per_s=0)

    @app.get("/bench/count")
    def count(table: str) -> dict[str, int]:
        """Rows of the project in ``spans`` or ``scores``, deduplicated (FINAL)."""
        assert table in ("spans", "scores")
        sql = f"SELECT count() AS n FROM {table} FINAL WHERE project_id = {{p:String}}"  # noqa: S608
        return {"count": int(store.driver.query(sql, {"p": keys["project_id"]})[0]["n"])}

    print(json.dumps(keys), flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    store.close()


def trace_batches(traces: int, per_request: int = 200) -> tuple[list[bytes], list[list[str]]]:
    """SDK ingest bodies holding ``traces`` traces of SPANS_PER_TRACE spans (started in the
    last hour), and each trace's ids ``[trace_id, span_id, ...]``."""
    t0 = int(time.time() * 1e6) - 3_600_000_000
    bodies, targets = [], []
    for first in range(0, traces, per_request):
        spans = []
        for n in range(first, min(traces, first + per_request)):
            trace_id = os.urandom(16).hex()
            ids = [os.urandom(8).hex() for _ in range(SPANS_PER_TRACE)]
            targets.append([trace_id, *ids])
            for i, span_id in enumerate(ids):
                spans.append(
                    {
                        "trace_id": trace_id,
                        "span_id": span_id,
                        "parent_span_id": None if i == 0 else ids[0],
                        "name": "answer" if i == 0 else "chat",
                        "kind": "chain" if i == 0 else "llm",
                        "start_time": t0 + n * 1000 + i * 100,
                        "end_time": t0 + n * 1000 + i * 100 + 90,
                        "input": "How do I get a refund?",
                        "output": "Within 30 days, from the orders page.",
                    }
                )
        bodies.append(orjson.dumps({"spans": spans}))
    return bodies, targets


def scores(targets: list[list[str]], count: int, run: str, *, timestamps: bool) -> Iterator[dict]:
    """``count`` new scores over ``targets`` (a third each numeric, boolean, categorical; every
    other one on a span), ids made unique by ``run``."""
    t0 = int(time.time() * 1e6) - 3_600_000_000
    for n in range(count):
        trace = targets[n % len(targets)]
        kind = n % 3
        value = [round((n % 100) / 100, 2), n % 2 == 0, ["polite", "curt", "rude"][n % 3]][kind]
        score = {
            "trace_id": trace[0],
            "name": ["quality", "helpful", "tone"][kind],
            "value": value,
            "comment": COMMENT,
            "source": "annotation",
            "author": f"reviewer-{n % 7}",
            "idempotency_key": f"{run}-{n}",
        }
        if n % 2:
            score["span_id"] = trace[1 + n % SPANS_PER_TRACE]
        if timestamps:
            score["timestamp"] = t0 + n
        yield score


def bodies_of(items: Iterator[dict], batch: int) -> list[bytes]:
    """Request bodies of ``batch`` scores each (one bare score object when ``batch`` is 1)."""
    items = list(items)
    if batch == 1:
        return [orjson.dumps(item) for item in items]
    return [orjson.dumps({"scores": items[i : i + batch]}) for i in range(0, len(items), batch)]


def measure(
    label: str,
    base: str,
    auth: tuple[str, str],
    bodies: list[bytes],
    sent: int,
    before: int,
    clients: int,
) -> float:
    """POST ``bodies`` from ``clients`` threads, wait until ``sent`` more scores are stored;
    print and return scores/s."""
    started = time.perf_counter()
    send_all(f"{base}/api/v1/scores", bodies, {"Content-Type": "application/json"}, clients, auth)
    acknowledged = time.perf_counter() - started
    while count(base, "scores") < before + sent:
        time.sleep(0.05)
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"{label}: scores not all stored after 600 s")
    elapsed = time.perf_counter() - started
    rate = sent / elapsed
    print(
        f"{label:<44} {sent:>8,} scores  {len(bodies):>6,} requests  acknowledged "
        f"{acknowledged:6.2f}s  stored {elapsed:6.2f}s  {rate:>9,.0f} scores/s",
        flush=True,
    )
    return rate


def count(base: str, table: str) -> int:
    return httpx.get(f"{base}/bench/count", params={"table": table}, timeout=120).json()["count"]


def run(args: argparse.Namespace) -> None:
    with served(__file__, "haloscope-score-bench-") as (_, base, keys):
        auth = (keys["public"], keys["secret"])
        span_bodies, targets = trace_batches(args.traces)
        send_all(
            f"{base}/api/v1/ingest",
            span_bodies,
            {"Content-Type": "application/json"},
            args.clients,
            auth,
        )
        while count(base, "spans") < args.traces * SPANS_PER_TRACE:
            time.sleep(0.2)
        print(
            f"stored {args.traces:,} traces ({args.traces * SPANS_PER_TRACE:,} spans) "
            f"as the scores' targets; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        stored = 0
        single = measure(
            "baseline: 1 score per request, timestamp",
            base,
            auth,
            bodies_of(scores(targets, args.single, "single", timestamps=True), 1),
            args.single,
            stored,
            args.clients,
        )
        stored += args.single
        rates: dict[str, list[float]] = {"timestamp": [], "lookup": []}
        for repeat in range(args.repeat):
            for mode in rates:
                label = f"batches of {args.batch}, " + (
                    "timestamp" if mode == "timestamp" else "placed by look-up"
                )
                items = scores(
                    targets, args.scores, f"{mode}-{repeat}", timestamps=mode == "timestamp"
                )
                rates[mode].append(
                    measure(
                        label,
                        base,
                        auth,
                        bodies_of(items, args.batch),
                        args.scores,
                        stored,
                        args.clients,
                    )
                )
                stored += args.scores
        print(f"load average after: {os.getloadavg()}")
        print(f"baseline (1 per request): {single:,.0f} scores/s")
        for mode, values in rates.items():
            median = statistics.median(values)
            print(
                f"batches of {args.batch} ({mode}): median {median:,.0f} scores/s of "
                f"{len(values)} run(s) {[round(v) for v in values]}; "
                f"{median / single:.1f}x the baseline"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=int, default=100_000, help="scores per batched run")
    parser.add_argument("--batch", type=int, default=500, help="scores per request (max 1000)")
    parser.add_argument("--single", type=int, default=2_000, help="scores sent one per request")
    parser.add_argument("--traces", type=int, default=20_000, help="traces the scores target")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--repeat", type=int, default=1, help="batched runs; medians shown")
    args = parse_or_serve(parser, serve)
    if args is not None:
        run(args)


if __name__ == "__main__":
    main()
