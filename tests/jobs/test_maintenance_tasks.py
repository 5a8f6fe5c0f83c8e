"""Maintenance beat tasks: the hourly overview-rollup refresh and the daily per-project
retention."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery, Task
from haloscope.platform.auth.api_keys import create_project
from haloscope.platform.config import Settings
from haloscope.platform.jobs import JobRuntime, create_celery_app, install_runtime
from haloscope.platform.store import TraceStore
from haloscope.platform.store.overview_rollup import refresh_rollup
from haloscope.platform.store.project_retention import (
    RETAINED_TABLES,
    delete_project_rows_before,
)
from sqlalchemy.orm import Session, sessionmaker

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US


@pytest.fixture
def jobs_app(
    chdb_store: TraceStore,
    chdb_settings: Settings,
    sessions: sessionmaker[Session],
    metadata_url: str,
    tmp_path: Path,
) -> Iterator[Celery]:
    """The Celery app over a runtime of this process's chDB store (tasks run with apply())."""
    settings = chdb_settings.replace(data_dir=tmp_path, database_url=metadata_url)
    install_runtime(JobRuntime(settings, chdb_store, sessions))
    yield create_celery_app(settings)
    install_runtime(None)


@pytest.fixture
def rollup_task(jobs_app: Celery) -> Task:
    assert jobs_app.conf.beat_schedule["hourly-overview-rollup"]["task"] == (
        "haloscope.refresh_overview_rollup"
    )
    return jobs_app.tasks["haloscope.refresh_overview_rollup"]


def _rolled_up(store: TraceStore, project_id: str) -> list[dict[str, object]]:
    return store.driver.query(
        "SELECT toUnixTimestamp(hour) AS hour, sum(span_count) AS spans, "
        "sum(error_count) AS errors FROM span_hourly_rollup FINAL "
        "WHERE project_id = {p:String} AND scope = 'all' GROUP BY hour ORDER BY hour",
        {"p": project_id},
    )


def _span(project_id: str, start_us: int, *, error: bool = False) -> dict[str, object]:
    return {
        "project_id": project_id,
        "trace_id": uuid.uuid4().hex,
        "span_id": uuid.uuid4().hex[:16],
        "name": "answer",
        "kind": "chain",
        "start_time": start_us,
        "end_time": start_us + 500_000,
        "status": "error" if error else "ok",
    }


def test_the_task_rolls_up_closed_hours_and_picks_up_a_late_span(
    rollup_task: Task, chdb_store: TraceStore
) -> None:
    project_id = f"rollup-{uuid.uuid4().hex[:8]}"
    hour_us = (time.time_ns() // 1000 // HOUR_US - 3) * HOUR_US
    spans = [_span(project_id, hour_us + i * 1_000_000, error=i == 0) for i in range(5)]
    chdb_store.insert_spans(spans)
    assert rollup_task.apply(throw=True).result >= 1
    assert _rolled_up(chdb_store, project_id) == [
        {"hour": hour_us // 1_000_000, "spans": 5, "errors": 1}
    ]
    late = {**spans[0], "span_id": uuid.uuid4().hex[:16], "status": "ok"}
    chdb_store.insert_spans([late, spans[1]])  # a late span and a re-sent one
    assert rollup_task.apply(throw=True).result >= 1
    assert _rolled_up(chdb_store, project_id) == [
        {"hour": hour_us // 1_000_000, "spans": 6, "errors": 1}
    ]


def _stored(store: TraceStore, table: str, project_id: str) -> int:
    rows = store.driver.query(
        f"SELECT count() AS n FROM {table} FINAL WHERE project_id = {{p:String}}",  # noqa: S608
        {"p": project_id},
    )
    return int(rows[0]["n"])


def test_daily_retention_deletes_only_what_is_older_than_each_projects_own_retention(
    jobs_app: Celery, chdb_store: TraceStore, sessions: sessionmaker[Session]
) -> None:
    assert jobs_app.conf.beat_schedule["daily-retention"]["task"] == "haloscope.apply_retention"
    now_us = time.time_ns() // 1000
    with sessions() as session:
        short = create_project(session, f"short-{uuid.uuid4().hex[:8]}")
        default = create_project(session, f"default-{uuid.uuid4().hex[:8]}")
        short.retention_days = 3
        session.commit()
        short_id, default_id = short.id, default.id
    ages_days = (10, 5, 1)
    for project_id in (short_id, default_id):
        spans = [_span(project_id, now_us - age * DAY_US) for age in ages_days]
        chdb_store.insert_spans(spans)
        chdb_store.insert_scores(
            [
                {
                    "project_id": project_id,
                    "trace_id": span["trace_id"],
                    "span_id": span["span_id"],
                    "timestamp": span["start_time"],
                    "name": "faithfulness",
                    "value": 1.0,
                }
                for span in spans
            ]
        )
    refresh_rollup(chdb_store.driver, now_us)
    assert _stored(chdb_store, "span_daily_rollup", short_id) == 3

    task = jobs_app.tasks["haloscope.apply_retention"]
    assert task.apply(throw=True).result == 1
    assert task.apply(throw=True).result == 1  # idempotent

    assert _stored(chdb_store, "spans", short_id) == 1
    assert _stored(chdb_store, "scores", short_id) == 1
    assert _stored(chdb_store, "span_daily_rollup", short_id) == 1
    assert _stored(chdb_store, "span_hourly_rollup", short_id) == 1
    for table in ("spans", "scores"):
        assert _stored(chdb_store, table, default_id) == len(ages_days)


def test_cluster_mode_deletes_on_every_nodes_local_tables() -> None:
    recorded = RecordingDriver()
    delete_project_rows_before(recorded, "p1", 1_700_000_000_000_000, cluster="prod")
    tables = [statement.split()[2] for statement, _ in recorded.executed]
    assert tables == [f"{t}_local" for t, _ in RETAINED_TABLES]
    for statement, params in recorded.executed:
        assert "ON CLUSTER 'prod'" in statement
        assert params == {"project_id": "p1", "cutoff_us": 1_700_000_000_000_000}


class RecordingDriver:
    """A stand-in for a ClickHouse cluster (none can run here): records the statements."""

    def __init__(self) -> None:
        self.executed: list[tuple[str, dict[str, object]]] = []

    def query(self, sql: str, params: object = None) -> list[dict[str, str]]:
        return [{"db": "haloscope"}]

    def execute(self, sql: str, params: dict[str, object]) -> None:
        self.executed.append((sql, params))
