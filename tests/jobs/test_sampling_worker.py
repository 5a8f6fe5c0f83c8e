"""The sampling job end to end: real Redis, real Celery worker subprocesses, scores in
ClickHouse (the chDB-backed HTTP endpoint), runs in the metadata DB; and the crash test."""

from __future__ import annotations

from collections.abc import Callable

from haloscope.platform.config import Settings
from haloscope.platform.db.models import SamplingRule, SamplingRun
from haloscope.platform.jobs.celery_app import JobOptions, create_celery_app
from haloscope.platform.jobs.rules import RuleSpec, create_rule
from haloscope.platform.jobs.tasks import start_sampling_run
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import HOUR_US, WorkerProcess, rag_trace, wait_for

PASSAGE = "The Eiffel Tower is a wrought-iron tower on the Champ de Mars in Paris, France."


def _rule(sessions: sessionmaker[Session], project: str, **spec) -> SamplingRule:
    with sessions() as session:
        rule = create_rule(session, project, RuleSpec(**spec))
        session.commit()
        return rule


def _run(sessions: sessionmaker[Session], run_id: str) -> SamplingRun:
    with sessions() as session:
        run = session.get(SamplingRun, run_id)
        assert run is not None
        return run


def _finished(sessions: sessionmaker[Session], run_id: str) -> SamplingRun | None:
    run = _run(sessions, run_id)
    return run if run.status != "running" else None


def _score_rows(store: TraceStore, project: str) -> list[dict]:
    """Every score row as written (no FINAL: duplicates would show)."""
    return store.driver.query(
        "SELECT span_id, name, evaluator_version, value, label, sampling_run_id, source "
        "FROM scores WHERE project_id = {p:String} ORDER BY span_id, name",
        {"p": project},
    )


def test_daily_run_scores_the_sample_once_through_redis_and_a_worker(
    clickhouse_store: TraceStore,
    sessions: sessionmaker[Session],
    project: str,
    now_us: int,
    worker_env: dict[str, str],
    start_worker: Callable[[], WorkerProcess],
) -> None:
    answers = ["It is in Paris.", "It is in Rome.", "Paris, France.", "Berlin.", "In Paris."]
    rows, llm_ids = [], {}
    for position, answer in enumerate(answers):
        trace = rag_trace(project, now_us - (position + 1) * HOUR_US, answer, PASSAGE)
        llm_ids[trace[1]["span_id"]] = answer
        rows += trace
    clickhouse_store.insert_spans(rows)
    rule = _rule(
        sessions,
        project,
        name="paris",
        filters={"kinds": ["llm"]},
        sample_rate=1.0,
        batch_size=2,
        evaluators=({"name": "contains", "version": None, "config": {"values": ["paris"]}},),
    )
    settings = Settings(broker_url=worker_env["HALOSCOPE_BROKER_URL"])
    app = create_celery_app(settings, JobOptions())
    run_id = start_sampling_run(app, sessions, rule, "api")
    worker = start_worker()
    run = wait_for(lambda: _finished(sessions, run_id), 90, f"run {run_id}\n{worker.log_text()}")

    assert (run.status, run.selected, run.batches_total, run.batches_done) == ("completed", 5, 3, 3)
    assert (run.scored, run.skipped, run.failed) == (5, 0, 0)
    scores = _score_rows(clickhouse_store, project)
    assert {row["span_id"] for row in scores} == set(llm_ids)
    for row in scores:
        assert row["value"] == (1.0 if "paris" in llm_ids[row["span_id"]].lower() else 0.0)
        assert (row["name"], row["evaluator_version"]) == ("contains", "1")
        assert (row["sampling_run_id"], row["source"]) == (run_id, "sampling")

    second = start_sampling_run(app, sessions, rule, "cli")
    again = wait_for(lambda: _finished(sessions, second), 60, f"run {second}")
    assert (again.status, again.selected, again.scored) == ("completed", 0, 0)
    assert len(_score_rows(clickhouse_store, project)) == 5


def test_worker_killed_mid_judge_batch_scores_every_span_exactly_once(
    clickhouse_store: TraceStore,
    sessions: sessionmaker[Session],
    project: str,
    now_us: int,
    worker_env: dict[str, str],
    start_worker: Callable[[], WorkerProcess],
) -> None:
    answers = [
        "It stands in Paris.",
        "It stands in Madrid.",
        "Paris.",
        "On the Moon.",
        "In Paris, France.",
        "In Lisbon.",
    ]
    rows = []
    for position, answer in enumerate(answers):
        rows += rag_trace(project, now_us - (position + 1) * HOUR_US, answer, PASSAGE)
    clickhouse_store.insert_spans(rows)
    rule = _rule(
        sessions,
        project,
        name="judge",
        filters={"kinds": ["llm"]},
        per_day=6,
        batch_size=2,
        evaluators=({"name": "hallucination.rag", "version": None, "config": {}},),
    )
    app = create_celery_app(Settings(broker_url=worker_env["HALOSCOPE_BROKER_URL"]), JobOptions())
    run_id = start_sampling_run(app, sessions, rule, "api")
    first = start_worker()
    wait_for(
        lambda: _score_rows(clickhouse_store, project),
        150,
        f"the first judge batch\n{first.log_text()}",
    )
    assert _run(sessions, run_id).batches_done < 3, "the run finished before the kill"
    first.kill()

    second = start_worker()
    run = wait_for(
        lambda: _finished(sessions, run_id), 150, f"run {run_id} after restart\n{second.log_text()}"
    )
    assert (run.status, run.selected, run.batches_done, run.scored) == ("completed", 6, 3, 6)
    scores = _score_rows(clickhouse_store, project)
    assert len(scores) == 6
    assert len({row["span_id"] for row in scores}) == 6
    assert {row["label"] for row in scores} <= {"hallucinated", "faithful"}
