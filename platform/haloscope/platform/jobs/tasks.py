"""Celery tasks of the jobs. Each is idempotent and retried with exponential backoff when
a store or the broker is briefly unavailable."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from haloscope.platform.db.models import SamplingRule
from haloscope.platform.jobs import sampling
from haloscope.platform.jobs.runtime import get_runtime
from haloscope.platform.store.base import StoreError
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
            _retry(self, exc)
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
