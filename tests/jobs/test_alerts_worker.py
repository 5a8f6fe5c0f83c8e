"""Alert wiring through real Redis and a real ``celery worker`` subprocess: the alerts task
reads the spans from ClickHouse (the chDB-backed endpoint), POSTs the breach to a loopback
webhook and records the firing; a healthy project notifies nobody."""

from __future__ import annotations

import time
from collections.abc import Callable

from haloscope.platform.config import Settings
from haloscope.platform.db.models import AlertEvent
from haloscope.platform.jobs.alert_rules import create_alert_rule
from haloscope.platform.jobs.celery_app import create_celery_app
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import HOUR_US, Webhook, WorkerProcess, llm_spans, wait_for


def _errors_rule(
    store: TraceStore, sessions: sessionmaker[Session], project: str, url: str, **spans: int
) -> str:
    """Store the project's spans of the last hour and an ``error_rate`` rule (default > 1%)
    notifying ``url``; the rule's id."""
    store.insert_spans(
        llm_spans(project, time.time_ns() // 1000 - HOUR_US, latency_ms=200, **spans)
    )
    with sessions() as session:
        channels = [{"type": "webhook", "url": url}]
        rule = create_alert_rule(
            session, project, name="errors", metric="error_rate", channels=channels
        )
        session.commit()
        return rule.id


def _evaluate_on_worker(
    worker_env: dict[str, str],
    start_worker: Callable[[], WorkerProcess],
    project: str,
) -> tuple[WorkerProcess, str]:
    """Send the alerts task of ``project`` through Redis; return the worker and the task id."""
    app = create_celery_app(Settings(broker_url=worker_env["HALOSCOPE_BROKER_URL"]))
    result = app.send_task("haloscope.evaluate_alerts", args=[project])
    return start_worker(), result.id


def _succeeded(worker: WorkerProcess, task_id: str) -> str | None:
    """The worker's log line of the task's success (it ends with the number of firings)."""
    for line in worker.log_text().splitlines():
        if task_id in line and "succeeded" in line:
            return line
    return None


def test_a_breached_rule_is_delivered_by_the_worker_and_recorded(
    clickhouse_store: TraceStore,
    sessions: sessionmaker[Session],
    project: str,
    webhook: Webhook,
    worker_env: dict[str, str],
    start_worker: Callable[[], WorkerProcess],
) -> None:
    rule_id = _errors_rule(clickhouse_store, sessions, project, webhook.url, count=100, errors=5)
    worker, task_id = _evaluate_on_worker(worker_env, start_worker, project)

    wait_for(lambda: webhook.bodies, 90, f"the webhook call\n{worker.log_text()}")
    (body,) = webhook.bodies
    assert (body["project_id"], body["rule_id"], body["rule"], body["metric"]) == (
        project,
        rule_id,
        "errors",
        "error_rate",
    )
    assert body["value"] == 0.05 and body["limit"] == 0.01
    assert "error_rate = 0.05 exceeds 0.01" in body["message"]
    line = wait_for(lambda: _succeeded(worker, task_id), 30, "the task's success")
    assert line.rstrip().endswith(": 1")
    with sessions() as session:
        (event,) = session.scalars(select(AlertEvent).where(AlertEvent.project_id == project))
        assert (event.rule_id, event.value, event.limit_value) == (rule_id, 0.05, 0.01)
        assert event.deliveries == [
            {"type": "webhook", "url": webhook.url, "ok": True, "attempts": 1}
        ]
        assert event.created_at.isoformat() == body["fired_at"]


def test_a_healthy_project_notifies_nobody(
    clickhouse_store: TraceStore,
    sessions: sessionmaker[Session],
    project: str,
    webhook: Webhook,
    worker_env: dict[str, str],
    start_worker: Callable[[], WorkerProcess],
) -> None:
    _errors_rule(clickhouse_store, sessions, project, webhook.url, count=200, errors=1)  # 0.5%
    worker, task_id = _evaluate_on_worker(worker_env, start_worker, project)

    line = wait_for(lambda: _succeeded(worker, task_id), 90, f"the task\n{worker.log_text()}")
    assert line.rstrip().endswith(": 0")
    assert webhook.bodies == []
    with sessions() as session:
        assert list(session.scalars(select(AlertEvent.id))) == []
