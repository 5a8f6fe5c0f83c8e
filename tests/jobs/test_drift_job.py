"""The drift job against real chDB: synthetic spans and scores with a known shift are marked
drifted on exactly the shifted features; unchanged traffic is not. Input embeddings (the
packaged MiniLM) drift when the questions change topic; a pinned baseline replaces the
previous window."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from celery import Task
from haloscope.evaluators import Resources
from haloscope.evaluators.embeddings import Embedder
from haloscope.platform.config import Settings
from haloscope.platform.db.models import DriftReportRecord
from haloscope.platform.jobs import JobRuntime, create_celery_app, install_runtime
from haloscope.platform.jobs.baselines import pin_baseline
from haloscope.platform.jobs.drift_job import (
    DEFAULT_EMBEDDING_SAMPLE_SIZE,
    INPUT_EMBEDDING,
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
TRAVEL = [
    "How do I get from {a} to {b} by train?",
    "What is the cheapest flight from {a} to {b}?",
    "Which museums should I visit in {a} before going to {b}?",
    "Is it safe to drive from {a} to {b} in winter?",
]
BILLING = [
    "Why was my invoice charged twice this month for {a}?",
    "How can I get a refund for the {b} subscription?",
    "My credit card payment for {a} failed, what should I do?",
    "Can I change the billing address on my {b} account?",
]
FILLER = "where is the tower and how tall is it and when was it built " * 2
CITIES = ["Paris", "Rome", "Oslo", "Lisbon", "Vienna", "Prague", "Madrid", "Dublin"]


@pytest.fixture
def drift_task(
    chdb_store: TraceStore,
    chdb_settings: Settings,
    sessions: sessionmaker[Session],
    metadata_url: str,
    tmp_path: Path,
    embedder: Embedder,
) -> Iterator[Task]:
    """The ``haloscope.drift_report`` task over a runtime of this process's chDB store."""
    settings = chdb_settings.replace(data_dir=tmp_path, database_url=metadata_url)
    install_runtime(JobRuntime(settings, chdb_store, sessions, Resources(embedder=embedder)))
    yield create_celery_app(settings).tasks["haloscope.drift_report"]
    install_runtime(None)


def _questions(templates: list[str], count: int, rng: np.random.Generator) -> list[str]:
    picks = rng.integers(0, len(templates), count)
    cities = rng.choice(CITIES, size=(count, 2))
    return [templates[p].format(a=a, b=b) for p, (a, b) in zip(picks, cities, strict=True)]


def _spans(
    project_id: str,
    start: datetime,
    rng: np.random.Generator,
    *,
    latency_ms: float,
    tokens: int,
    questions: list[str] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``N_PER_WINDOW`` LLM spans spread over the 6 hours after ``start``, with a score each;
    their inputs are ``questions`` (as ``{"question": ...}``) or prefixes of ``FILLER``."""
    spans, scores = [], []
    base_us = int(start.timestamp() * 1_000_000)
    offsets = rng.integers(0, 6 * 3_600_000_000 - 10_000_000, N_PER_WINDOW)
    for position, offset in enumerate(offsets):
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
                "input": (
                    orjson.dumps({"question": questions[position]}).decode()
                    if questions
                    else FILLER[: int(rng.integers(80, 120))]
                ),
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
    samples = fetch_features(chdb_store, project, WINDOWS, sample_size=10_000)
    assert len(samples.baseline["latency_ms"]) == len(samples.current["latency_ms"]) == N_PER_WINDOW
    assert (
        len(samples.baseline_inputs) == len(samples.current_inputs) == DEFAULT_EMBEDDING_SAMPLE_SIZE
    )
    small = fetch_features(chdb_store, project, WINDOWS, sample_size=50, embedding_sample_size=7)
    assert all(len(values) == 50 for values in small.baseline.values())
    assert len(small.baseline_inputs) == len(small.current_inputs) == 7
    assert set(small.current_inputs) <= {span["input"] for span in spans}


def test_a_pinned_baseline_must_precede_the_window() -> None:
    with pytest.raises(ValueError, match="baseline window must end before"):
        DriftWindows(END - timedelta(hours=1), END, END - timedelta(hours=2), END)


def test_drift_task_stores_one_report_per_window(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str, drift_task: Task
) -> None:
    _load(chdb_store, project, shifted=True)
    kwargs = {"end": END.isoformat(), "window_hours": 6}
    first = drift_task.apply(args=[project], kwargs=kwargs).get()
    assert drift_task.apply(args=[project], kwargs=kwargs).get() == first  # a redelivery
    assert {"daily-drift", "hourly-alerts"} <= set(drift_task.app.conf.beat_schedule)
    with sessions() as session:
        reports = list_reports(session, project)
        assert [r.id for r in reports] == [first]
        assert "latency_ms" in reports[0].drifted


def _topics(store: TraceStore, project_id: str, current_topic: list[str]) -> None:
    """Travel questions in the baseline window, ``current_topic`` questions in the current
    one; latency, tokens and question lengths alike in both."""
    rng = np.random.default_rng(11)
    for start, topic in ((WINDOWS.baseline_start, TRAVEL), (WINDOWS.current_start, current_topic)):
        questions = _questions(topic, N_PER_WINDOW, rng)
        spans, _ = _spans(project_id, start, rng, latency_ms=800, tokens=500, questions=questions)
        store.insert_spans(spans)


@pytest.mark.parametrize(("topic", "drifts"), [(BILLING, True), (TRAVEL, False)])
def test_input_embeddings_drift_when_the_questions_change_topic(
    chdb_store: TraceStore,
    sessions: sessionmaker[Session],
    project: str,
    embedder: Embedder,
    topic: list[str],
    drifts: bool,
) -> None:
    _topics(chdb_store, project, topic)
    # Every input of each window is embedded (a sample of them would make the unchanged case's
    # p-value vary from run to run with the order ClickHouse reads the rows in).
    with sessions() as session:
        record = run_drift_job(
            session,
            chdb_store,
            project,
            WINDOWS,
            embedder=embedder,
            embedding_sample_size=N_PER_WINDOW,
        )
    feature = record.features[INPUT_EMBEDDING]
    assert (feature["kind"], feature["test"]) == ("embedding", "mmd_permutation")
    assert feature["n_reference"] == feature["n_current"] == N_PER_WINDOW
    assert (feature["status"] == "drift") is drifts
    assert (INPUT_EMBEDDING in record.drifted) is drifts
    if drifts:
        assert feature["p_value"] < 0.01
    else:
        assert feature["p_value"] > 0.05
    assert "latency_ms" not in record.drifted


def test_a_pinned_baseline_replaces_the_previous_window(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str, drift_task: Task
) -> None:
    # A week ago the latency was already 1600 ms, as now; the previous window had 800 ms.
    rng = np.random.default_rng(5)
    week_ago = WINDOWS.baseline_start - timedelta(days=7)
    for start, latency in (
        (week_ago, 1600),
        (WINDOWS.baseline_start, 800),
        (WINDOWS.current_start, 1600),
    ):
        chdb_store.insert_spans(_spans(project, start, rng, latency_ms=latency, tokens=500)[0])
    kwargs = {"end": END.isoformat(), "window_hours": 6}
    previous_id = drift_task.apply(args=[project], kwargs=kwargs).get()
    with sessions() as session:
        pin_baseline(session, project, week_ago, week_ago + timedelta(hours=6), "launch week")
        session.commit()
    pinned_id = drift_task.apply(args=[project], kwargs=kwargs).get()
    with sessions() as session:
        previous = session.get(DriftReportRecord, previous_id)
        pinned = session.get(DriftReportRecord, pinned_id)
        assert previous is not None and pinned is not None
        assert previous.baseline_pinned is False
        assert previous.baseline_start == WINDOWS.baseline_start
        assert "latency_ms" in previous.drifted
        assert pinned.baseline_pinned is True
        assert (pinned.baseline_start, pinned.baseline_end) == (
            week_ago,
            week_ago + timedelta(hours=6),
        )
        assert (pinned.current_start, pinned.current_end) == (WINDOWS.current_start, END)
        assert "latency_ms" not in pinned.drifted
        assert pinned.features["latency_ms"]["n_reference"] == N_PER_WINDOW
