"""Eval runs started from the dashboard: a dataset version of the project, a registered target
and a registered eval config (``target_registry``), run on a Celery worker with its progress
in the metadata DB (``eval_run_jobs``). The CLI stays the CI path; a run started here is
recorded exactly like one ``haloscope eval run`` records: its items in ``eval_items`` and its
summary as an eval run, so it can be compared and gated like any other.

The job is idempotent: a redelivered one that completed returns; one cut off (a worker died)
runs again from the start under the same run id, replacing the items it had written.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import Celery
from haloscope.evaluators import Resources
from haloscope.platform.db.models import EvalRunJob, utcnow
from haloscope.platform.evals import records
from haloscope.platform.evals.config import build_scorers
from haloscope.platform.evals.datasets import DatasetVersion, items_from_dicts
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.items import rows_of_uploads, run_key, upload_items
from haloscope.platform.evals.platform_client import run_summary_body
from haloscope.platform.evals.runner import run_eval
from haloscope.platform.evals.runs import RunRecord, new_run_id
from haloscope.platform.evals.target_registry import TargetRegistry
from haloscope.platform.jobs.celery_app import JUDGE_QUEUE
from haloscope.platform.judges import stored_judges
from haloscope.platform.store.eval_items import EvalItemStore
from haloscope.platform.store.traces import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

TASK = "haloscope.eval_run"
FINISHED = frozenset({"completed", "failed"})
RECENT_JOBS = 20
# Progress is written at most this often (and when the last target call finishes).
PROGRESS_INTERVAL_S = 0.5
MAX_PROMPT_CHARS = 20_000


@dataclass(frozen=True)
class RunRequest:
    """What a person asks to run: a dataset version, a registered target and config, and for
    an endpoint target optionally its own prompt template."""

    dataset: str
    version: int
    target: str
    config: str
    prompt: str = ""


def job_json(job: EvalRunJob) -> dict[str, Any]:
    """A job as the dashboard shows it."""
    return {
        "id": job.id,
        "run_id": job.run_id,
        "dataset": job.dataset,
        "dataset_version": job.dataset_version,
        "target": job.target,
        "config": job.config,
        "status": job.status,
        "items_done": job.items_done,
        "items_total": job.items_total,
        "error": job.error,
        "created_by": job.created_by,
        "created_at": job.created_at,
        "finished": job.status in FINISHED,
    }


def check_request(
    sessions: sessionmaker[Session], registry: TargetRegistry, project_id: str, req: RunRequest
) -> int:
    """EvalUsageError (saying why) unless the request names registered things and an existing
    dataset version of the project; its item count otherwise."""
    target = registry.target(req.target)
    registry.config(req.config)
    if req.prompt and target.kind != "endpoint":
        raise EvalUsageError(f"target {req.target!r} is a function: it takes no prompt template")
    if len(req.prompt) > MAX_PROMPT_CHARS:
        raise EvalUsageError(f"the prompt template is longer than {MAX_PROMPT_CHARS} characters")
    if target.kind == "endpoint":
        built = target.build(req.prompt)  # a template that does not parse is refused here
        built.close()  # type: ignore[attr-defined]
    with sessions() as session:
        try:
            version = records.get_dataset_version(session, project_id, req.dataset, req.version)
        except records.NotFoundError as exc:
            raise EvalUsageError(str(exc)) from exc
    return int(version["item_count"])


def start_run(
    celery: Celery,
    sessions: sessionmaker[Session],
    registry: TargetRegistry,
    project_id: str,
    req: RunRequest,
    created_by: str,
) -> dict[str, Any]:
    """Check the request, record the job and queue it on a worker (the ``judge`` queue: its
    evaluators may need the judge engine); the job as :func:`job_json`."""
    total = check_request(sessions, registry, project_id, req)
    with sessions.begin() as session:
        job = EvalRunJob(
            project_id=project_id,
            run_id=f"{new_run_id()}-ui",
            dataset=req.dataset,
            dataset_version=req.version,
            target=req.target,
            config=req.config,
            prompt=req.prompt,
            items_total=total,
            created_by=created_by[:200],
        )
        session.add(job)
        session.flush()
        body = job_json(job)
    celery.send_task(TASK, args=[body["id"]], queue=JUDGE_QUEUE)
    return body


def get_job(session: Session, project_id: str, job_id: str) -> dict[str, Any] | None:
    """The project's job ``job_id``, or None."""
    job = session.get(EvalRunJob, job_id)
    return job_json(job) if job is not None and job.project_id == project_id else None


def recent_jobs(session: Session, project_id: str, limit: int = RECENT_JOBS) -> list[dict]:
    """The project's newest jobs first."""
    jobs = session.scalars(
        select(EvalRunJob)
        .where(EvalRunJob.project_id == project_id)
        .order_by(EvalRunJob.created_at.desc())
        .limit(limit)
    )
    return [job_json(job) for job in jobs]


def _update(sessions: sessionmaker[Session], job_id: str, **values: Any) -> None:
    with sessions.begin() as session:
        job = session.get(EvalRunJob, job_id)
        if job is not None:
            for name, value in values.items():
                setattr(job, name, value)


def fail_job(sessions: sessionmaker[Session], job_id: str, error: str) -> None:
    """Mark the job failed with ``error``."""
    _update(sessions, job_id, status="failed", error=error[:2000], finished_at=utcnow())


def _progress_writer(sessions: sessionmaker[Session], job_id: str) -> Callable[[int, int], None]:
    """A progress callback writing ``items_done`` at most every PROGRESS_INTERVAL_S, and the
    ``scoring`` status once every target call is done (called from the runner's threads)."""
    lock = threading.Lock()
    written = {"at": 0.0, "done": 0}

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        with lock:
            stale = done <= written["done"]
            if stale or (done < total and now - written["at"] < PROGRESS_INTERVAL_S):
                return
            written.update(at=now, done=done)
            status = "scoring" if done >= total else "running"
            _update(sessions, job_id, items_done=done, status=status)

    return report


def _store_run(
    store: TraceStore,
    sessions: sessionmaker[Session],
    project_id: str,
    dataset: DatasetVersion,
    run: RunRecord,
    created_at: datetime,
) -> None:
    """The run's items, then its summary (so a recorded run always has its items), both as
    of ``created_at`` (the job's start: the items' partition, the same on a redelivery)."""
    body = {**run_summary_body(run), "created_at": created_at}
    key = run_key(project_id, {**body, "created_at": created_at.isoformat()})
    uploads = list(upload_items(dataset.items, run.items, list(run.summary)))
    EvalItemStore(store.driver).insert(rows_of_uploads(key, uploads))
    # A run already recorded was recorded by an earlier delivery of this job.
    with contextlib.suppress(records.ConflictError):
        records.record_run(sessions, project_id, body)


def execute_job(
    store: TraceStore,
    sessions: sessionmaker[Session],
    registry: TargetRegistry,
    job_id: str,
    resources: Resources | None = None,
) -> str:
    """Run the job (unless it already finished) and return its final status. A usage problem
    (a target or config no longer registered, a dataset version gone, a broken template) or
    a failure of the run fails the job with the reason; store errors propagate (the task
    retries them)."""
    with sessions() as session:
        job = session.get(EvalRunJob, job_id)
        if job is None:
            return "missing"
        if job.status in FINISHED:
            return job.status
        project_id, req = (
            job.project_id,
            RunRequest(job.dataset, job.dataset_version, job.target, job.config, job.prompt),
        )
        run_id, created_at = job.run_id, job.created_at
    _update(sessions, job_id, status="running", items_done=0, started_at=utcnow(), error="")
    target = None
    try:
        with sessions() as session:
            version = records.get_dataset_version(session, project_id, req.dataset, req.version)
        dataset = DatasetVersion(
            req.dataset, req.version, items_from_dicts(version["items"], "dataset")
        )
        config = registry.config(req.config)
        scorers = build_scorers(config, resources, stored_judges(sessions, project_id))
        target = registry.target(req.target).build(req.prompt)
        run = run_eval(
            dataset,
            target,
            config,
            scorers,
            progress=False,
            run_id=run_id,
            on_progress=_progress_writer(sessions, job_id),
        )
        run.git = {"commit": "", "branch": ""}
        _store_run(store, sessions, project_id, dataset, run, created_at)
    except (EvalUsageError, records.NotFoundError) as exc:
        fail_job(sessions, job_id, str(exc))
        return "failed"
    finally:
        close = getattr(target, "close", None)
        if close is not None:
            close()
    _update(
        sessions, job_id, status="completed", items_done=len(dataset.items), finished_at=utcnow()
    )
    return "completed"
