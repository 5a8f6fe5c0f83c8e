"""The sampling job: draw a rule's sample, split it into judge batches, score each batch once.

A run is planned once (its batches are rows of the metadata DB) and every batch is its own
task. Batches are idempotent: spans already scored by the batch's evaluator version are
skipped before judging, score rows are keyed so a rewrite replaces, and a batch's counters
are added to its run only the first time it completes. When the project has an active
calibration of the evaluator version (``feedback.calibrations``), the batch stores the
recalibrated scores, each recording the calibration version and the evaluator's own score.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from haloscope.evaluators import EvalResult, create_evaluator
from haloscope.platform.db.models import SamplingBatch, SamplingRule, SamplingRun, utcnow
from haloscope.platform.feedback.calibrations import ActiveCalibration, active_calibration
from haloscope.platform.jobs.runtime import JobRuntime
from haloscope.platform.jobs.selection import (
    SampleRequest,
    SpanKey,
    draw_sample,
    read_spans_with_context,
    scored_spans,
)
from haloscope.platform.jobs.span_inputs import eval_input
from haloscope.platform.judges import custom_judge_name, get_judge, judge_evaluator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
SCORE_SOURCE = "sampling"


class RunNotFound(LookupError):
    """No sampling run or batch with that id."""


@dataclass(frozen=True)
class BatchOutcome:
    """What one execution of a judge batch did (``repeated`` when it had already run)."""

    scored: int
    skipped: int
    failed: int
    repeated: bool = False


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def start_run(
    session: Session, rule: SamplingRule, trigger: str, now: datetime | None = None
) -> SamplingRun:
    """Record a new run of ``rule`` over the ``window_hours`` before ``now`` (the caller
    commits, then enqueues :func:`plan_run` for it)."""
    end = now or utcnow()
    run = SamplingRun(
        rule_id=rule.id,
        project_id=rule.project_id,
        trigger=trigger,
        status="running",
        window_start=end - timedelta(hours=rule.window_hours),
        window_end=end,
    )
    session.add(run)
    session.flush()
    return run


def _resolved_evaluators(session: Session, rule: SamplingRule) -> list[dict[str, Any]]:
    """The rule's evaluator specs with the version that runs now filled in; a project's
    custom judge (``custom:<name>``) also carries its stored spec (``judge``), so its batches
    run that exact version."""
    resolved = []
    for spec in rule.evaluators:
        judge = custom_judge_name(spec["name"])
        if judge is not None:
            row = get_judge(session, rule.project_id, judge, spec["version"])
            resolved.append({**spec, "version": str(row.version), "judge": dict(row.spec)})
            continue
        evaluator = create_evaluator(spec["name"], version=spec["version"], config=spec["config"])
        resolved.append({**spec, "version": evaluator.version})
    return resolved


def plan_run(runtime: JobRuntime, run_id: str) -> list[str]:
    """Draw the run's sample and create its batches (once); return the ids of the batches
    still to do. A run with nothing to score completes at once."""
    with runtime.sessionmaker() as session:
        run = session.get(SamplingRun, run_id)
        if run is None:
            raise RunNotFound(f"sampling run {run_id!r} does not exist")
        existing = session.scalars(select(SamplingBatch).where(SamplingBatch.run_id == run_id))
        batches = list(existing)
        if batches or run.status != "running":
            return [b.id for b in batches if not b.done]
        rule = session.get(SamplingRule, run.rule_id)
        if rule is None:
            raise RunNotFound(f"the rule of sampling run {run_id!r} was deleted")
        evaluators = _resolved_evaluators(session, rule)
        request = SampleRequest(
            project_id=rule.project_id,
            filters=rule.filters,
            start_us=_micros(run.window_start),
            end_us=_micros(run.window_end),
            sample_rate=rule.sample_rate,
            per_day=rule.per_day,
            cap=rule.max_items_per_run,
            seed=rule.seed,
            evaluator_keys=[f"{e['name']}@{e['version']}" for e in evaluators],
        )
        keys = draw_sample(runtime.store, request)
        position = 0
        for evaluator in evaluators:
            for start in range(0, len(keys), rule.batch_size):
                chunk = keys[start : start + rule.batch_size]
                session.add(
                    SamplingBatch(
                        run_id=run_id,
                        position=position,
                        evaluator=evaluator,
                        span_keys=[[k.trace_id, k.span_id, k.start_us] for k in chunk],
                    )
                )
                position += 1
        run.selected = len(keys)
        run.batches_total = position
        if position == 0:
            run.status, run.finished_at = "completed", utcnow()
        session.commit()
        log.info("sampling run %s: %d spans selected, %d batches", run_id, len(keys), position)
        return list(
            session.scalars(
                select(SamplingBatch.id)
                .where(SamplingBatch.run_id == run_id)
                .order_by(SamplingBatch.position)
            )
        )


def _score_rows(
    run: SamplingRun,
    keys: Sequence[SpanKey],
    results: Sequence[EvalResult],
    calibration: ActiveCalibration | None = None,
) -> list[dict[str, Any]]:
    rows = []
    for key, result in zip(keys, results, strict=True):
        if result.error is not None or result.score is None:
            continue
        value, label, reason = float(result.score), result.label or "", result.reason or ""
        evidence = [e.__dict__ for e in result.evidence]
        if calibration is not None:
            calibrated = calibration.apply(value, label, reason, evidence)
            value, label, reason = calibrated.value, calibrated.label, calibrated.reason
            evidence = calibrated.evidence
        rows.append(
            {
                "project_id": run.project_id,
                "trace_id": key.trace_id,
                "span_id": key.span_id,
                "timestamp": key.start_us,
                "name": result.evaluator,
                "evaluator_version": result.version,
                "value": value,
                "label": label,
                "reason": reason,
                "evidence": orjson.dumps(evidence).decode() if evidence else "",
                "source": SCORE_SOURCE,
                "sampling_run_id": run.id,
            }
        )
    return rows


def judge_batch(runtime: JobRuntime, batch_id: str) -> BatchOutcome:
    """Score one batch: skip spans already scored by its evaluator version, judge the rest
    in one call, write their scores, then add the counts to the run (first time only)."""
    with runtime.sessionmaker() as session:
        batch = session.get(SamplingBatch, batch_id)
        if batch is None:
            raise RunNotFound(f"sampling batch {batch_id!r} does not exist")
        if batch.done:
            return BatchOutcome(batch.scored, batch.skipped, batch.failed, repeated=True)
        run = session.get(SamplingRun, batch.run_id)
        assert run is not None  # batches cascade with their run
        batch.attempts += 1
        session.commit()
        spec = batch.evaluator
        keys = [SpanKey(t, s, int(u)) for t, s, u in batch.span_keys]
        calibration = active_calibration(session, run.project_id, spec["name"], spec["version"])

    started = time.perf_counter()
    done = scored_spans(runtime.store, run.project_id, keys, spec["name"], spec["version"])
    todo = [k for k in keys if k.span_id not in done]
    # Scores this run wrote in an attempt that died before recording the batch count as scored.
    resumed = sum(1 for run_id in done.values() if run_id == run.id)
    spans, documents = read_spans_with_context(runtime.store, run.project_id, todo)
    present = [k for k in todo if k.span_id in spans]
    rows: list[dict[str, Any]] = []
    if present:
        evaluator = (
            judge_evaluator(spec["judge"], spec["version"], runtime.resources)
            if "judge" in spec
            else create_evaluator(
                spec["name"],
                version=spec["version"],
                config=spec["config"],
                resources=runtime.resources,
            )
        )
        items = [eval_input(spans[k.span_id], documents.get(k.trace_id, ())) for k in present]
        results = evaluator.evaluate(items)
        rows = _score_rows(run, present, results, calibration)
        runtime.store.insert_scores(rows)
    outcome = BatchOutcome(
        scored=len(rows) + resumed,
        skipped=len(keys) - len(todo) - resumed,
        failed=len(todo) - len(rows),
    )
    _complete_batch(runtime, batch_id, run.id, outcome, time.perf_counter() - started)
    return outcome


def _complete_batch(
    runtime: JobRuntime, batch_id: str, run_id: str, outcome: BatchOutcome, seconds: float
) -> None:
    with runtime.sessionmaker() as session:
        flipped = session.execute(
            update(SamplingBatch)
            .where(SamplingBatch.id == batch_id, SamplingBatch.done.is_(False))
            .values(
                done=True,
                scored=outcome.scored,
                skipped=outcome.skipped,
                failed=outcome.failed,
                seconds=seconds,
            )
        )
        if flipped.rowcount == 1:
            session.execute(
                update(SamplingRun)
                .where(SamplingRun.id == run_id)
                .values(
                    batches_done=SamplingRun.batches_done + 1,
                    scored=SamplingRun.scored + outcome.scored,
                    skipped=SamplingRun.skipped + outcome.skipped,
                    failed=SamplingRun.failed + outcome.failed,
                    judge_seconds=SamplingRun.judge_seconds + seconds,
                )
            )
            session.execute(
                update(SamplingRun)
                .where(
                    SamplingRun.id == run_id,
                    SamplingRun.status == "running",
                    SamplingRun.batches_done >= SamplingRun.batches_total,
                )
                .values(status="completed", finished_at=utcnow())
            )
        session.commit()


def fail_batch(runtime: JobRuntime, batch_id: str, error: str) -> BatchOutcome:
    """Record a batch that gave up (an unexpected error, or retries spent): its spans count as
    failed, the run keeps ``error``, and the run still completes when its other batches do."""
    with runtime.sessionmaker() as session:
        batch = session.get(SamplingBatch, batch_id)
        if batch is None or batch.done:
            return BatchOutcome(0, 0, 0, repeated=True)
        run_id, outcome = batch.run_id, BatchOutcome(0, 0, len(batch.span_keys))
        session.execute(
            update(SamplingRun).where(SamplingRun.id == run_id).values(error=error[:2000])
        )
        session.commit()
    _complete_batch(runtime, batch_id, run_id, outcome, 0.0)
    return outcome


def fail_run(runtime: JobRuntime, run_id: str, error: str) -> None:
    """Mark a run failed with ``error`` (its planning gave up)."""
    with runtime.sessionmaker() as session:
        session.execute(
            update(SamplingRun)
            .where(SamplingRun.id == run_id)
            .values(status="failed", error=error[:2000], finished_at=utcnow())
        )
        session.commit()


def run_as_dict(run: SamplingRun) -> dict[str, Any]:
    """A JSON-ready view of a run and its progress."""
    progress = run.batches_done / run.batches_total if run.batches_total else 1.0
    return {
        "id": run.id,
        "rule_id": run.rule_id,
        "trigger": run.trigger,
        "status": run.status,
        "window_start": run.window_start.isoformat(),
        "window_end": run.window_end.isoformat(),
        "selected": run.selected,
        "batches_total": run.batches_total,
        "batches_done": run.batches_done,
        "progress": round(progress, 4),
        "scored": run.scored,
        "skipped": run.skipped,
        "failed": run.failed,
        "judge_seconds": round(run.judge_seconds, 3),
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }
