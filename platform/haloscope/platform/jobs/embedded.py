"""A Celery worker and the beat scheduler in threads of the current process.

``haloscope up`` runs them next to the API: the process owns the embedded chDB store, so the
jobs must run inside it. The worker uses a thread pool and consumes both queues.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from celery import Celery
from celery.beat import Service
from celery.worker import WorkController
from haloscope.platform.config import Settings
from haloscope.platform.db.models import SamplingRun
from haloscope.platform.jobs.celery_app import DEFAULT_QUEUE, JUDGE_QUEUE, create_celery_app
from haloscope.platform.jobs.runtime import JobRuntime, install_runtime, judge_resources
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


class EmbeddedJobs:
    """Runs a worker (and optionally beat) for ``app`` in daemon threads until stopped."""

    def __init__(
        self,
        app: Celery,
        *,
        concurrency: int = 2,
        beat_schedule_file: Path | None = None,
    ) -> None:
        self.app = app
        self.worker = WorkController(
            app=app,
            pool_cls="threads",
            concurrency=concurrency,
            queues=[DEFAULT_QUEUE, JUDGE_QUEUE],
            hostname="haloscope-embedded@localhost",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self.beat = (
            # Wake at least every second so stop() takes effect promptly.
            Service(app=app, schedule_filename=str(beat_schedule_file), max_interval=1.0)
            if beat_schedule_file is not None
            else None
        )
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the worker (and beat) threads; ``app`` becomes the process's default app,
        which the thread pool executes tasks under."""
        self.app.set_default()
        targets = [("haloscope-worker", self.worker.start)]
        if self.beat is not None:
            targets.append(("haloscope-beat", self.beat.start))
        for name, target in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("embedded Celery worker%s started", " and beat" if self.beat else "")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop beat, then the worker, waiting up to ``timeout_s`` for each thread.

        A task still running after that is abandoned with the (daemon) thread: tasks are
        idempotent and unfinished sampling runs are resumed by the next start.
        """
        if self.beat is not None:
            self.beat.stop()
        self.worker.stop(in_sighandler=False)
        for thread in self._threads:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s; abandoning it", thread.name, timeout_s)
        self._threads.clear()


def start_embedded_jobs(settings: Settings, store: TraceStore) -> EmbeddedJobs:
    """Install a runtime over this process's ``store``, start a worker and beat on the
    configured broker (the embedded SQLite broker by default) and resume the sampling runs a
    previous process left unfinished; the caller stops them."""
    from haloscope.platform.db.engine import make_engine, make_sessionmaker

    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    install_runtime(JobRuntime(settings, store, sessions, judge_resources(settings)))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_celery_app(settings)
    jobs = EmbeddedJobs(app, beat_schedule_file=settings.data_dir / "celerybeat-schedule")
    jobs.start()
    resume_unfinished_runs(app, sessions)
    return jobs


def resume_unfinished_runs(app: Celery, sessions: sessionmaker[Session]) -> int:
    """Re-enqueue the planning of every running sampling run: a message the SQLite broker
    had handed to a process that died is gone, but the run's undone batches are in the
    metadata DB, and planning re-dispatches exactly those (idempotently)."""
    with sessions() as session:
        run_ids = list(
            session.scalars(select(SamplingRun.id).where(SamplingRun.status == "running"))
        )
    for run_id in run_ids:
        app.send_task("haloscope.plan_sampling_run", args=[run_id])
    return len(run_ids)
