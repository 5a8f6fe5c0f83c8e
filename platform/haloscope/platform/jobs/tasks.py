"""Celery tasks of the jobs. Each is idempotent and retried with exponential backoff when
a store or the broker is briefly unavailable."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from celery import Celery, Task
from haloscope.platform.db.models import (
    AlertRule,
    DriftReportRecord,
    Project,
    SamplingBatch,
    SamplingRule,
    SamplingRun,
    utcnow,
)
from haloscope.platform.evals import dashboard_runs
from haloscope.platform.evals.target_registry import load_registry
from haloscope.platform.jobs import sampling
from haloscope.platform.jobs.alerts import evaluate_alerts
from haloscope.platform.jobs.baselines import report_windows
from haloscope.platform.jobs.drift_job import DriftWindows, run_drift_job
from haloscope.platform.jobs.retention import apply_project_retention
from haloscope.platform.jobs.runtime import get_runtime
from haloscope.platform.pricing.repricing import reprice_project
from haloscope.platform.store.base import StoreError
from haloscope.platform.store.overview_rollup import refresh_rollup
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
RETRYABLE: tuple[type[BaseException], ...] = (StoreError, OperationalError, ConnectionError)
MAX_RETRIES = 5
BACKOFF_BASE_S = 2.0
BACKOFF_MAX_S = 300.0


def backoff_s(retries: int) -> float:
    """Delay before retry number ``retries + 1``: doubling from 2 s, at most 5 minutes."""
    return min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**retries)


def _retry(task: Task, exc: BaseException) -> None:
    raise task.retry(exc=exc, countdown=backoff_s(task.request.retries))


def start_sampling_run(
    app: Celery, sessions: sessionmaker[Session], rule: SamplingRule, trigger: str
) -> str:
    """Record a run of ``rule`` and enqueue its planning; return the run id."""
    with sessions() as session:
        run = sampling.start_run(session, rule, trigger)
        session.commit()
        run_id = run.id
    app.send_task("haloscope.plan_sampling_run", args=[run_id])
    return run_id


def start_drift_report(
    app: Celery,
    sessions: sessionmaker[Session],
    project_id: str,
    *,
    end: datetime | None = None,
    window_hours: int = 24,
) -> DriftWindows:
    """Enqueue the project's drift report of the ``window_hours`` before ``end`` (default:
    now); return the windows it will compare (its pinned baseline, or the previous window).
    The baseline is resolved here and sent with the task, so the report compares exactly
    these windows even if the pin changes before a worker runs it."""
    end = end or utcnow()
    with sessions() as session:
        windows, pinned = report_windows(session, project_id, end, window_hours)
    kwargs: dict[str, Any] = {"end": end.isoformat(), "window_hours": window_hours}
    if pinned:
        kwargs["baseline"] = [windows.baseline_start.isoformat(), windows.baseline_end.isoformat()]
    app.send_task("haloscope.drift_report", args=[project_id], kwargs=kwargs)
    return windows


def register(app: Celery) -> None:
    """Define Haloscope's tasks on ``app``."""
    common: dict[str, Any] = {
        "bind": True,
        "shared": False,
        "max_retries": MAX_RETRIES,
        "acks_late": True,
    }

    @app.task(name="haloscope.plan_sampling_run", **common)
    def plan_sampling_run(self: Task, run_id: str) -> int:
        """Draw a run's sample, create its batches and enqueue those not yet done."""
        try:
            batch_ids = sampling.plan_run(get_runtime(), run_id)
        except sampling.RunNotFound as exc:
            log.warning("%s", exc)
            return 0
        except RETRYABLE as exc:
            if self.request.retries >= MAX_RETRIES:
                sampling.fail_run(get_runtime(), run_id, f"planning failed: {exc}")
                raise
            _retry(self, exc)
        for batch_id in batch_ids:
            self.app.send_task("haloscope.judge_batch", args=[batch_id])
        return len(batch_ids)

    @app.task(name="haloscope.judge_batch", **common)
    def judge_batch(self: Task, batch_id: str) -> dict[str, int]:
        """Score one batch of a sampling run (on the ``judge`` queue)."""
        try:
            outcome = sampling.judge_batch(get_runtime(), batch_id)
        except sampling.RunNotFound as exc:
            log.warning("%s", exc)
            return {}
        except RETRYABLE as exc:
            if self.request.retries < MAX_RETRIES:
                _retry(self, exc)
            sampling.fail_batch(get_runtime(), batch_id, f"judge batch {batch_id} failed: {exc}")
            raise
        except Exception as exc:  # a bug or a broken model: count the batch failed, go on
            log.exception("judge batch %s failed", batch_id)
            error = f"judge batch {batch_id} failed: {type(exc).__name__}: {exc}"
            outcome = sampling.fail_batch(get_runtime(), batch_id, error)
        _alert_when_run_completed(self.app, batch_id)
        return {"scored": outcome.scored, "skipped": outcome.skipped, "failed": outcome.failed}

    @app.task(name="haloscope.sample_all_rules", **common)
    def sample_all_rules(self: Task) -> int:
        """The daily run: start a run of every enabled sampling rule."""
        runtime = get_runtime()
        with runtime.sessionmaker() as session:
            rules = list(session.scalars(select(SamplingRule).where(SamplingRule.enabled)))
        for rule in rules:
            start_sampling_run(self.app, runtime.sessionmaker, rule, "schedule")
        return len(rules)

    @app.task(name="haloscope.drift_all_projects", **common)
    def drift_all_projects(self: Task, window_hours: int = 24) -> int:
        """The daily drift run: one drift report task per project, over the same windows."""
        end = utcnow().replace(minute=0, second=0, microsecond=0).isoformat()
        with get_runtime().sessionmaker() as session:
            project_ids = list(session.scalars(select(Project.id)))
        for project_id in project_ids:
            self.app.send_task(
                "haloscope.drift_report",
                args=[project_id],
                kwargs={"end": end, "window_hours": window_hours},
            )
        return len(project_ids)

    @app.task(name="haloscope.drift_report", **common)
    def drift_report(
        self: Task,
        project_id: str,
        end: str,
        window_hours: int = 24,
        baseline: tuple[str, str] | None = None,
    ) -> str:
        """Store the project's drift report of the ``window_hours`` before ``end`` (ISO)
        against ``baseline`` (ISO start, end), the project's pinned baseline or the previous
        window; a redelivered task returns the report already stored for these windows."""
        runtime = get_runtime()
        try:
            with runtime.sessionmaker() as session:
                windows, pinned = report_windows(
                    session, project_id, datetime.fromisoformat(end), window_hours, baseline
                )
                existing = find_drift_report(session, project_id, windows)
                if existing is not None:
                    return existing
                record = run_drift_job(
                    session,
                    runtime.store,
                    project_id,
                    windows,
                    embedder=runtime.resources.embedder,
                    pinned=pinned,
                )
                session.commit()
                report_id = record.id
        except RETRYABLE as exc:
            _retry(self, exc)
        self.app.send_task("haloscope.evaluate_alerts", args=[project_id, ["drift"]])
        return report_id

    @app.task(name="haloscope.evaluate_alerts", **common)
    def evaluate_alerts_task(
        self: Task, project_id: str | None = None, metrics: list[str] | None = None
    ) -> int:
        """Evaluate alert rules (of one project, or of every project with enabled rules)."""
        runtime = get_runtime()
        try:
            with runtime.sessionmaker() as session:
                if project_id is None:
                    query = select(AlertRule.project_id).where(AlertRule.enabled).distinct()
                    project_ids = list(session.scalars(query))
                else:
                    project_ids = [project_id]
                fired = 0
                for pid in project_ids:
                    chosen = tuple(metrics) if metrics else None
                    fired += len(evaluate_alerts(session, runtime.store, pid, metrics=chosen))
                    session.commit()
        except RETRYABLE as exc:
            _retry(self, exc)
        return fired

    @app.task(name="haloscope.apply_retention", **common)
    def apply_retention(self: Task) -> int:
        """Delete what is older than each project's own retention; returns how many projects
        have one."""
        runtime = get_runtime()
        try:
            with runtime.sessionmaker() as session:
                cutoffs = apply_project_retention(
                    session,
                    runtime.store,
                    time.time_ns() // 1000,
                    runtime.settings.clickhouse_cluster,
                )
        except RETRYABLE as exc:
            _retry(self, exc)
        return len(cutoffs)

    @app.task(name="haloscope.reprice_spans", **common)
    def reprice_project_spans(self: Task, project_id: str, pattern: str, since_us: int) -> int:
        """Recompute the project's price-table span costs of models matching ``pattern`` from
        ``since_us`` with its current prices; returns how many spans changed."""
        runtime = get_runtime()
        try:
            return reprice_project(
                runtime.store.driver, runtime.sessionmaker, project_id, pattern, since_us
            )
        except RETRYABLE as exc:
            _retry(self, exc)

    @app.task(name="haloscope.eval_run", **common)
    def eval_run(self: Task, job_id: str) -> str:
        """Run an eval run started from the dashboard (on the ``judge`` queue: its evaluators
        may need the engine); its progress and outcome are on the job row."""
        runtime = get_runtime()
        try:
            return dashboard_runs.execute_job(
                runtime.store,
                runtime.sessionmaker,
                load_registry(runtime.settings.eval_targets),
                job_id,
                runtime.resources,
            )
        except RETRYABLE as exc:
            if self.request.retries < MAX_RETRIES:
                _retry(self, exc)
            dashboard_runs.fail_job(runtime.sessionmaker, job_id, f"store unavailable: {exc}")
            raise
        except Exception as exc:  # a bug or a broken model: fail the run with the reason
            log.exception("eval run job %s failed", job_id)
            dashboard_runs.fail_job(runtime.sessionmaker, job_id, f"{type(exc).__name__}: {exc}")
            return "failed"

    @app.task(name="haloscope.refresh_overview_rollup", **common)
    def refresh_overview_rollup(self: Task) -> int:
        """Recompute the dashboard overview rollup of every project's closed hours and days
        whose spans changed (the overview also refreshes what it reads, so this only keeps
        first page views fast); returns how many project-hours hold spans."""
        try:
            return refresh_rollup(get_runtime().store.driver, time.time_ns() // 1000)
        except RETRYABLE as exc:
            _retry(self, exc)


def find_drift_report(session: Session, project_id: str, windows: DriftWindows) -> str | None:
    """The id of the project's report already stored for exactly these windows, or None."""
    query = select(DriftReportRecord.id).where(
        DriftReportRecord.project_id == project_id,
        DriftReportRecord.current_start == windows.current_start,
        DriftReportRecord.current_end == windows.current_end,
        DriftReportRecord.baseline_start == windows.baseline_start,
        DriftReportRecord.baseline_end == windows.baseline_end,
    )
    return session.scalars(query).first()


def _alert_when_run_completed(app: Celery, batch_id: str) -> None:
    """After the batch that completed its run, evaluate the project's hallucination alerts."""
    with get_runtime().sessionmaker() as session:
        run = session.scalars(
            select(SamplingRun).join(SamplingBatch).where(SamplingBatch.id == batch_id)
        ).first()
        if run is None or run.status != "completed":
            return
        project_id = run.project_id
    app.send_task("haloscope.evaluate_alerts", args=[project_id, ["hallucination_rate"]])
