"""Eval run items in the platform: how fast ``haloscope eval run`` writes them, and how fast the
compare page answers for two runs of 10,000 items.

**Writes.** Starts the real API (uvicorn, one process, fresh chDB data dir, no rate limit;
score_ingest.py's server mode) and records ``--items`` items of a run the way ``haloscope eval
run`` does: ``PlatformClient.record_items`` (one client, batches of 1,000 items, two requests
in flight, ``POST /api/v1/eval-runs/{id}/items``, stored before each answer; the count is
checked through the item list afterwards). The baseline is the same content sent as spans
through the SDK ingest route (one span per item: input, output, passages as documents, the
scores in the metadata; batches of 1,000 from one client), timed until ``count()`` over
``spans FINAL`` holds them all. Items are ~1 kB of JSON each (question, expected answer,
answer, two passages, tags, four metrics with labels and a judge reason). Each repeat sends
new rows; medians are printed.

**Compare page.** In one process on a fresh chDB store: two runs of ``--compare-items`` items
(a baseline and a candidate with ~15% of the items regressed on one metric, some outputs
changed), rendered through the real app (signed in, in-process ASGI client) ``--runs`` times
per variant; p50/p95 server time. The baseline row is the same page for two runs without
recorded items (totals only: the page before items were recorded).

    .venv/bin/python benchmarks/eval_items.py --items 20000 --repeat 3 --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dashboard import PASSWORD, measure, sign_in  # noqa: E402
from ingest import send_all, served  # noqa: E402
from score_ingest import count  # noqa: E402

# The API in server mode, with a /bench/count of the project's spans (score_ingest.py's).
SERVER = Path(__file__).with_name("score_ingest.py")

METRICS = ("correct", "grounded", "refusal", "faithfulness")
PASSAGE = (
    "Refunds for annual plans are prorated to the day and paid back to the original payment "
    "method within five business days; monthly plans are not refunded but can be cancelled. "
)
REASON = "Every claim of the answer is supported by the first passage; nothing is invented."


# ---------------------------------------------------------------- payloads


def uploads(count: int, run: str, regressed_share: float = 0.0) -> Iterator[dict]:
    """``count`` items as ``haloscope eval run`` uploads them (``evals.items.upload_items``);
    with ``regressed_share``, that share of the items fail ``correct`` and answer otherwise."""
    for n in range(count):
        bad = zlib.crc32(f"{n}".encode()) % 1000 < regressed_share * 1000
        answer = (
            f"Annual plans are refunded in {'ten' if bad else 'five'} business days to the "
            f"original payment method (case {n})."
        )
        yield {
            "id": f"item-{n:06d}",
            "position": n,
            "input": f"How long does a refund of an annual plan take? (case {n}, run {run})",
            "expected_output": "five business days",
            "output": answer,
            "contexts": [PASSAGE, PASSAGE[::-1]],
            "tags": ["refunds", "annual" if n % 2 else "monthly"],
            "metadata": {"topic": "refunds", "source": "support-faq"},
            "latency_ms": 180.0 + n % 50,
            "metrics": [
                {"name": "correct", "score": 0.0 if bad else 1.0, "label": "fail" if bad else "pass",
                 "latency_ms": 0.02},
                {"name": "grounded", "score": 0.9 - (n % 7) / 100, "latency_ms": 0.05},
                {"name": "refusal", "score": 0.01, "label": "answer", "latency_ms": 3.1},
                {"name": "faithfulness", "score": 0.93, "label": "faithful", "reason": REASON,
                 "latency_ms": 41.0},
            ],
        }  # fmt: skip


def span_bodies(count: int, run: str, batch: int = 1000) -> list[bytes]:
    """The same items as SDK spans (one per item), in request bodies of ``batch`` spans."""
    t0 = time.time_ns() // 1000 - 3_600_000_000
    spans = []
    for n, item in enumerate(uploads(count, run)):
        spans.append(
            {
                "trace_id": f"{zlib.crc32(run.encode()):08x}{n:024x}",
                "span_id": f"{n + 1:016x}",
                "name": "eval-item",
                "kind": "chain",
                "start_time": t0 + n,
                "end_time": t0 + n + 180_000,
                "input": {"question": item["input"], "expected": item["expected_output"]},
                "output": item["output"],
                "documents": [{"content": c} for c in item["contexts"]],
                "tags": item["tags"],
                "metadata": {
                    **{f"{m['name']}.score": str(m["score"]) for m in item["metrics"]},
                    **{f"{m['name']}.label": m.get("label") or "" for m in item["metrics"]},
                    "faithfulness.reason": REASON,
                    "run_id": run,
                },
            }
        )
    return [orjson.dumps({"spans": spans[i : i + batch]}) for i in range(0, len(spans), batch)]


# ---------------------------------------------------------------- writes


def stored_items(base: str, auth: tuple[str, str], run_id: str) -> int:
    """The run's items the API lists (walked page by page; not timed)."""
    found, cursor = 0, None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(
            f"{base}/api/v1/eval-runs/{run_id}/items", params=params, auth=auth, timeout=120
        ).json()
        found += len(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def timed(label: str, send: Callable[[], object], stored: Callable[[], bool], rows: int) -> float:
    """Run ``send()``, wait until ``stored()``; print and return the rows/s."""
    started = time.perf_counter()
    send()
    acknowledged = time.perf_counter() - started
    while not stored():
        time.sleep(0.05)
        if time.perf_counter() - started > 600:
            raise RuntimeError(f"{label}: rows not all stored after 600 s")
    elapsed = time.perf_counter() - started
    rate = rows / elapsed
    print(
        f"{label:<46} {rows:>8,} rows  acknowledged {acknowledged:6.2f}s  stored "
        f"{elapsed:6.2f}s  {rate:>9,.0f} rows/s  load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return rate


def run_writes(args: argparse.Namespace) -> None:
    from haloscope.platform.evals.platform_client import PlatformClient

    with served(str(SERVER), "haloscope-eval-items-bench-") as (_, base, keys):
        auth = (keys["public"], keys["secret"])
        client = PlatformClient(base, *auth)
        ours, spans = [], []
        for repeat in range(args.repeat):
            run_id = f"bench-{repeat}"
            created = httpx.post(
                f"{base}/api/v1/eval-runs",
                json={"run_id": run_id, "dataset": "faq", "dataset_version": "1", "summary": {}},
                auth=auth,
            )
            assert created.status_code == 201, created.text
            bodies = span_bodies(args.items, run_id)
            want = args.items * (repeat + 1)
            spans.append(
                timed(
                    "baseline: the same rows as spans (SDK ingest)",
                    lambda bodies=bodies: send_all(
                        f"{base}/api/v1/ingest",
                        bodies,
                        {"Content-Type": "application/json"},
                        1,
                        auth,
                    ),
                    lambda want=want: count(base, "spans") >= want,
                    args.items,
                )
            )
            ours.append(
                timed(
                    "eval run: record_items (POST .../items)",
                    lambda run_id=run_id: client.record_items(run_id, uploads(args.items, run_id)),
                    lambda: True,  # stored before each answer
                    args.items,
                )
            )
            assert stored_items(base, auth, run_id) == args.items
        client.close()
    base_rate, our_rate = statistics.median(spans), statistics.median(ours)
    print(f"span ingest of the same rows (baseline): median {base_rate:,.0f} rows/s {spans}")
    print(f"eval run item upload:                    median {our_rate:,.0f} rows/s {ours}")
    print(f"ratio (items / spans): {our_rate / base_rate:.2f}x")


# ---------------------------------------------------------------- compare page


def seed_runs(store: object, sessions: object, project_id: str, count: int) -> None:
    """Two recorded runs of ``count`` items (the candidate ~15% regressed on ``correct``) and
    two recorded runs without items (the baseline page)."""
    from haloscope.platform.evals import records
    from haloscope.platform.evals.items import rows_of_uploads, run_key
    from haloscope.platform.store.eval_items import EvalItemStore

    summary = {
        m: {"value": 0.9, "aggregate": "pass_rate" if m == "correct" else "mean"} for m in METRICS
    }
    items = EvalItemStore(store.driver)  # type: ignore[attr-defined]
    for run_id, regressed in (
        ("base", 0.0),
        ("cand", 0.15),
        ("old-base", None),
        ("old-cand", None),
    ):
        body = {"run_id": run_id, "dataset": "faq", "dataset_version": "1", "item_count": count,
                "summary": summary}  # fmt: skip
        recorded = records.record_run(sessions, project_id, body)  # type: ignore[arg-type]
        if regressed is None:
            continue
        started = time.perf_counter()
        seeded = list(uploads(count, "r", regressed))
        items.insert(rows_of_uploads(run_key(project_id, recorded), seeded))
        print(f"seeded run {run_id}: {count:,} items in {time.perf_counter() - started:.1f} s")


def run_compare(args: argparse.Namespace) -> None:
    from fastapi.testclient import TestClient
    from haloscope.platform.api.app import create_app
    from haloscope.platform.auth.api_keys import create_project
    from haloscope.platform.auth.users import add_member, create_user
    from haloscope.platform.config import Settings
    from haloscope.platform.db.engine import make_engine, make_sessionmaker, upgrade_database
    from haloscope.platform.evals.compare import clear_cache
    from haloscope.platform.store import open_store
    from haloscope.web import mount_dashboard

    with tempfile.TemporaryDirectory(prefix="haloscope-compare-bench-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), ingest_workers=0)
        upgrade_database(settings.resolved_database_url)
        sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
        store = open_store(settings)
        store.migrate()
        with sessions.begin() as db:
            project = create_project(db, "bench")
            user = create_user(db, "bench@example.com", PASSWORD)
            add_member(db, user.id, project.id, "owner")
            project_id = project.id
        seed_runs(store, sessions, project_id, args.compare_items)
        app = create_app(settings, store=store, sessionmaker=sessions)
        mount_dashboard(app, settings=settings, store=store, sessionmaker=sessions)
        page = f"/projects/{project_id}/datasets/compare?run=base&run=cand"
        old = f"/projects/{project_id}/datasets/compare?run=old-base&run=old-cand"
        # (name, path, cold): a cold render first forgets the cached score tables, as the
        # first view of a comparison in a process does.
        variants = [
            ("baseline: totals only (runs without items)", old, False),
            ("first view, all items, page 1 (cold)", page, True),
            ("first view, regressed only (cold)", f"{page}&regressed=1", True),
            ("all items, dataset order, page 1", page, False),
            ("regressed only", f"{page}&regressed=1", False),
            (
                "metric correct, most regressed first",
                f"{page}&metric=correct&sort=regressed",
                False,
            ),
            ("tag annual, most improved first", f"{page}&tag=annual&sort=improved", False),
            ("last page (page 200)", f"{page}&page=200", False),
        ]
        with TestClient(app) as client:
            sign_in(client, "bench@example.com")
            print(f"two runs of {args.compare_items:,} items, {args.runs} renders per variant")
            print(f"{'variant':46} {'p50 ms':>8} {'p95 ms':>8} {'p95/baseline':>13}  load")
            baseline = None
            for name, path, cold in variants:
                p50, p95 = measure(client, path, args.runs, clear_cache if cold else None)
                baseline = baseline or p95
                print(
                    f"{name:46} {p50:8.1f} {p95:8.1f} {p95 / baseline:12.1f}x  "
                    f"{os.getloadavg()[0]:.1f}",
                    flush=True,
                )
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=20_000, help="items written per repeat")
    parser.add_argument("--repeat", type=int, default=3, help="write runs (medians)")
    parser.add_argument("--compare-items", type=int, default=10_000, help="items per run")
    parser.add_argument("--runs", type=int, default=15, help="renders per compare variant")
    parser.add_argument("--only", choices=("writes", "compare"), help="one half only")
    args = parser.parse_args()
    if args.only != "compare":
        run_writes(args)
    if args.only != "writes":
        run_compare(args)


if __name__ == "__main__":
    main()
