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
    """The stores and shared models jobs run against."""

    settings: Settings
    store: TraceStore
    sessionmaker: sessionmaker[Session]
    resources: Resources = field(default_factory=Resources)


def judge_resources(settings: Settings) -> Resources:
    """Evaluator resources whose judge engine is the configured one (loaded on first use):
    the torch engine on ``judge_device``, vLLM, or an OpenAI-compatible endpoint."""
    options: dict[str, str] = {}
    if settings.judge_backend == "torch":
        options["device"] = settings.judge_device
    elif settings.judge_backend == "openai":
        options["base_url"] = settings.judge_base_url
    return Resources(
        backend=settings.judge_backend,
        model=settings.judge_model or None,
        engine_options=options,
    )


_lock = threading.Lock()
_runtime: JobRuntime | None = None


def build_runtime(settings: Settings) -> JobRuntime:
    """A runtime that opens the configured trace store and metadata DB."""
    from haloscope.platform.db.engine import make_engine, make_sessionmaker

    sessions = make_sessionmaker(make_engine(settings.resolved_database_url))
    return JobRuntime(settings, open_store(settings), sessions, judge_resources(settings))


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
