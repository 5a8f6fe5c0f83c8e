"""The hourly beat task that keeps the dashboard overview rollup up to date."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Task
from haloscope.platform.config import Settings
from haloscope.platform.jobs import JobRuntime, create_celery_app, install_runtime
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker

HOUR_US = 3_600_000_000


@pytest.fixture
def rollup_task(
    chdb_store: TraceStore,
    chdb_settings: Settings,
    sessions: sessionmaker[Session],
    metadata_url: str,
    tmp_path: Path,
) -> Iterator[Task]:
    settings = chdb_settings.replace(data_dir=tmp_path, database_url=metadata_url)
    install_runtime(JobRuntime(settings, chdb_store, sessions))
    app = create_celery_app(settings)
    assert app.conf.beat_schedule["hourly-overview-rollup"]["task"] == (
        "haloscope.refresh_overview_rollup"
    )
    yield app.tasks["haloscope.refresh_overview_rollup"]
    install_runtime(None)


def _rolled_up(store: TraceStore, project_id: str) -> list[dict[str, object]]:
    return store.driver.query(
        "SELECT toUnixTimestamp(hour) AS hour, sum(span_count) AS spans, "
        "sum(error_count) AS errors FROM span_hourly_rollup FINAL "
        "WHERE project_id = {p:String} AND scope = 'all' GROUP BY hour ORDER BY hour",
        {"p": project_id},
    )


def test_the_task_rolls_up_closed_hours_and_picks_up_a_late_span(
    rollup_task: Task, chdb_store: TraceStore
) -> None:
    project_id = f"rollup-{uuid.uuid4().hex[:8]}"
    hour_us = (time.time_ns() // 1000 // HOUR_US - 3) * HOUR_US
    spans = [
        {
            "project_id": project_id,
            "trace_id": uuid.uuid4().hex,
            "span_id": uuid.uuid4().hex[:16],
            "name": "answer",
            "kind": "chain",
            "start_time": hour_us + i * 1_000_000,
            "end_time": hour_us + i * 1_000_000 + 500_000,
            "status": "error" if i == 0 else "ok",
        }
        for i in range(5)
    ]
    chdb_store.insert_spans(spans)
    rollup_task.apply().get()
    assert _rolled_up(chdb_store, project_id) == [
        {"hour": hour_us // 1_000_000, "spans": 5, "errors": 1}
    ]
    late = {**spans[0], "span_id": uuid.uuid4().hex[:16], "status": "ok"}
    chdb_store.insert_spans([late, spans[1]])  # a late span and a re-sent one
    rollup_task.apply().get()
    assert _rolled_up(chdb_store, project_id) == [
        {"hour": hour_us // 1_000_000, "spans": 6, "errors": 1}
    ]
