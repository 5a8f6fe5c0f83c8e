"""The drift job against real chDB: synthetic spans and scores with a known shift are marked
drifted on exactly the shifted features; unchanged traffic is not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from haloscope.platform.config import Settings
from haloscope.platform.db.models import DriftReportRecord
from haloscope.platform.jobs import JobRuntime, create_celery_app, install_runtime
from haloscope.platform.jobs.drift_job import (
    DriftWindows,
    fetch_features,
    list_reports,
    run_drift_job,
)
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

N_PER_WINDOW = 300
END = datetime.now(UTC).replace(microsecond=0)
WINDOWS = DriftWindows.previous(END, hours=6)


def _spans(
    project_id: str, start: datetime, rng: np.random.Generator, *, latency_ms: float, tokens: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``N_PER_WINDOW`` LLM spans spread over the 6 hours after ``start``, with a score each."""
    spans, scores = [], []
    base_us = int(start.timestamp() * 1_000_000)
    offsets = rng.integers(0, 6 * 3_600_000_000 - 10_000_000, N_PER_WINDOW)
    for offset in offsets:
        start_us = base_us + int(offset)
        trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        duration_us = int(max(1.0, rng.normal(latency_ms, latency_ms * 0.1)) * 1000)
        total = int(rng.normal(tokens, tokens * 0.1))
        spans.append(
            {
                "project_id": project_id,
                "trace_id": trace_id,
                "span_id": span_id,
                "name": "generate",
                "kind": "llm",
                "start_time": start_us,
                "end_time": start_us + duration_us,
                "status": "error" if rng.random() < 0.02 else "ok",
                "input": "q" * int(rng.integers(80, 120)),
                "output": "a" * int(rng.integers(200, 260)),
                "total_tokens": total,
                "cost": total * 1e-6,
            }
        )
        scores.append(
            {
                "project_id": project_id,
                "trace_id": trace_id,
                "span_id": span_id,
                "timestamp": start_us,
                "name": "faithfulness",
                "value": float(rng.beta(8, 2)),
                "source": "sampling",
            }
        )
    return spans, scores


def _load(store: TraceStore, project_id: str, *, shifted: bool) -> list[dict[str, Any]]:
    """Store a baseline and a current window of spans and scores; return the spans."""
    rng = np.random.default_rng(7)
    spans, scores = _spans(project_id, WINDOWS.baseline_start, rng, latency_ms=800, tokens=500)
    current = _spans(
        project_id,
        WINDOWS.current_start,
        rng,
        latency_ms=1600 if shifted else 800,
        tokens=900 if shifted else 500,
    )
    store.insert_spans(spans + current[0])
    store.insert_scores(scores + current[1])
    return spans + current[0]


def test_a_known_shift_marks_exactly_the_shifted_features(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str
) -> None:
    _load(chdb_store, project, shifted=True)
    with sessions() as session:
        record = run_drift_job(session, chdb_store, project, WINDOWS)
        session.commit()
        stored = session.get(DriftReportRecord, record.id)
        assert stored is not None
        drifted = set(stored.drifted)
        features = stored.features
    assert {"latency_ms", "total_tokens", "cost"} <= drifted
    assert not drifted & {"error", "input_length", "output_length", "score:faithfulness"}
    assert features["latency_ms"]["n_reference"] == N_PER_WINDOW
    assert features["score:faithfulness"]["status"] == "no_drift"


def test_unchanged_traffic_has_no_drift(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str
) -> None:
    _load(chdb_store, project, shifted=False)
    with sessions() as session:
        record = run_drift_job(session, chdb_store, project, WINDOWS)
        assert record.drifted == []
        assert record.features["latency_ms"]["status"] == "no_drift"


def test_samples_are_bounded_and_deduplicated(chdb_store: TraceStore, project: str) -> None:
    spans = _load(chdb_store, project, shifted=False)
    chdb_store.insert_spans(spans[:5] + spans[-5:])  # re-sent spans: FINAL keeps one version
    baseline, current = fetch_features(chdb_store, project, WINDOWS, sample_size=10_000)
    assert len(baseline["latency_ms"]) == len(current["latency_ms"]) == N_PER_WINDOW
    small, _ = fetch_features(chdb_store, project, WINDOWS, sample_size=50)
    assert all(len(values) == 50 for values in small.values())


def test_a_pinned_baseline_must_precede_the_window() -> None:
    with pytest.raises(ValueError, match="baseline window must end before"):
        DriftWindows(END - timedelta(hours=1), END, END - timedelta(hours=2), END)


def test_drift_task_stores_one_report_per_window(
    chdb_store: TraceStore,
    chdb_settings: Settings,
    sessions: sessionmaker[Session],
    metadata_url: str,
    project: str,
    tmp_path: Path,
) -> None:
    _load(chdb_store, project, shifted=True)
    settings = chdb_settings.replace(data_dir=tmp_path, database_url=metadata_url)
    install_runtime(JobRuntime(settings, chdb_store, sessions))
    try:
        app = create_celery_app(settings)
        assert {"daily-drift", "hourly-alerts"} <= set(app.conf.beat_schedule)
        task = app.tasks["haloscope.drift_report"]
        kwargs = {"end": END.isoformat(), "window_hours": 6}
        first = task.apply(args=[project], kwargs=kwargs).get()
        assert task.apply(args=[project], kwargs=kwargs).get() == first  # a redelivery
    finally:
        install_runtime(None)
    with sessions() as session:
        reports = list_reports(session, project)
        assert [r.id for r in reports] == [first]
        assert "latency_ms" in reports[0].drifted
