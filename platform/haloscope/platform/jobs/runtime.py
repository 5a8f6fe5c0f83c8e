"""What a job needs at run time: settings, the trace store, metadata sessions, models.

A worker process builds its runtime from the environment on first use. ``haloscope up``
installs one sharing the API's trace store, since an embedded chDB store is owned by one
process.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from haloscope.evaluators import Resources
from haloscope.platform.config import Settings, load_settings
from haloscope.platform.store import TraceStore, open_store
from sqlalchemy.orm import Session, sessionmaker


@dataclass
class JobRuntime:
    """The stores and shared models jobs run against.

    ``judge_lock`` serialises judge calls between the threads of one process (the embedded
    worker's thread pool): the judge engine schedules one batch at a time and is not safe to
    drive from two threads at once; it batches each call internally, so nothing is lost.
    """

    settings: Settings
    store: TraceStore
    sessionmaker: sessionmaker[Session]
    resources: Resources = field(default_factory=Resources)
    judge_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


_lock = threading.Lock()
_runtime: JobRuntime | None = None


def build_runtime(settings: Settings) -> JobRuntime:
    """A runtime that opens the configured trace store and metadata DB."""
    from haloscope.platform.db.engine import make_engine, make_sessionmaker

    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    return JobRuntime(settings, open_store(settings), sessions)


def install_runtime(runtime: JobRuntime | None) -> None:
    """Make ``runtime`` the one jobs of this process use (None forgets it)."""
    global _runtime
    with _lock:
        _runtime = runtime


def get_runtime() -> JobRuntime:
    """This process's runtime, built from the environment's settings on first use."""
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(load_settings())
        return _runtime
