"""Alerts against real chDB and a real webhook server on 127.0.0.1: a breached rule is
delivered (and recorded) once, a healthy rule sends nothing, failing webhooks are retried."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from haloscope.platform.db.models import AlertEvent
from haloscope.platform.jobs.alert_rules import METRICS, create_alert_rule, install_default_rules
from haloscope.platform.jobs.alerts import WebhookPolicy, evaluate_alerts
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.jobs.conftest import Webhook, llm_spans

NOW = datetime.now(UTC).replace(microsecond=0)
FAST = WebhookPolicy(timeout_s=2.0, attempts=3, backoff_s=0.05)


def _spans(
    project_id: str, hours_ago: float, count: int, *, errors: int, latency_ms: int, cost: float
) -> list[dict[str, Any]]:
    start_us = int((NOW - timedelta(hours=hours_ago)).timestamp() * 1_000_000)
    return llm_spans(project_id, start_us, count, errors=errors, latency_ms=latency_ms, cost=cost)


def _hallucination_scores(project_id: str, hallucinated: int, total: int) -> list[dict[str, Any]]:
    start_us = int((NOW - timedelta(hours=1)).timestamp() * 1_000_000)
    return [
        {
            "project_id": project_id,
            "trace_id": uuid.uuid4().hex,
            "span_id": uuid.uuid4().hex[:16],
            "timestamp": start_us + i,
            "name": "hallucination.rag",
            "evaluator_version": "1",
            "value": 0.9 if i < hallucinated else 0.1,
            "label": "hallucinated" if i < hallucinated else "faithful",
            "source": "sampling",
        }
        for i in range(total)
    ]


def _rules(session: Session, project_id: str, url: str) -> None:
    channels = [{"type": "webhook", "url": url}, {"type": "log"}]
    for metric in ("error_rate", "p95_latency_ms", "cost_per_request", "hallucination_rate"):
        create_alert_rule(session, project_id, name=metric, metric=metric, channels=channels)


def test_breached_rules_notify_and_healthy_ones_do_not(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str, webhook: Webhook
) -> None:
    # Baseline (previous days): 100 ms, no errors, cost 0.01. Current day: 500 ms latency
    # (5x), 10% errors, the same cost; 1 hallucination in 100 sampled spans (1% < 5%).
    chdb_store.insert_spans(_spans(project, 48, 200, errors=0, latency_ms=100, cost=0.01))
    chdb_store.insert_spans(_spans(project, 2, 200, errors=20, latency_ms=500, cost=0.01))
    chdb_store.insert_scores(_hallucination_scores(project, hallucinated=1, total=100))
    with sessions() as session:
        _rules(session, project, webhook.url)
        fired = evaluate_alerts(session, chdb_store, project, now=NOW, policy=FAST)
        session.commit()
        assert sorted(e.metric for e in fired) == ["error_rate", "p95_latency_ms"]
    by_metric = {body["metric"]: body for body in webhook.bodies}
    assert sorted(by_metric) == ["error_rate", "p95_latency_ms"]
    assert by_metric["error_rate"]["value"] == pytest.approx(0.1)
    assert by_metric["error_rate"]["limit"] == pytest.approx(0.01)
    latency = by_metric["p95_latency_ms"]
    assert latency["baseline"] == pytest.approx(100, rel=0.05)
    assert latency["limit"] == pytest.approx(2 * latency["baseline"])
    assert latency["value"] == pytest.approx(500, rel=0.05)
    with sessions() as session:
        events = list(session.scalars(select(AlertEvent).where(AlertEvent.project_id == project)))
        assert len(events) == 2
        for event in events:
            assert [d["type"] for d in event.deliveries] == ["webhook", "log"]
            assert all(d["ok"] for d in event.deliveries)
        again = evaluate_alerts(session, chdb_store, project, now=NOW, policy=FAST)
        assert again == [], "a lasting breach is announced once per window"
    assert len(webhook.bodies) == 2


def test_healthy_project_sends_nothing(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str, webhook: Webhook
) -> None:
    chdb_store.insert_spans(_spans(project, 48, 200, errors=0, latency_ms=100, cost=0.01))
    chdb_store.insert_spans(_spans(project, 2, 200, errors=1, latency_ms=110, cost=0.011))
    chdb_store.insert_scores(_hallucination_scores(project, hallucinated=2, total=100))
    with sessions() as session:
        _rules(session, project, webhook.url)
        assert evaluate_alerts(session, chdb_store, project, now=NOW, policy=FAST) == []
    assert webhook.bodies == []


def test_cost_and_hallucination_defaults_fire_above_their_limits(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str, webhook: Webhook
) -> None:
    chdb_store.insert_spans(_spans(project, 72, 100, errors=0, latency_ms=100, cost=0.010))
    chdb_store.insert_spans(_spans(project, 2, 100, errors=0, latency_ms=100, cost=0.013))
    chdb_store.insert_scores(_hallucination_scores(project, hallucinated=8, total=100))
    with sessions() as session:
        _rules(session, project, webhook.url)
        fired = evaluate_alerts(session, chdb_store, project, now=NOW, policy=FAST)
        assert sorted(e.metric for e in fired) == ["cost_per_request", "hallucination_rate"]
    cost = next(b for b in webhook.bodies if b["metric"] == "cost_per_request")
    assert cost["limit"] == pytest.approx(1.2 * 0.010)


def test_failing_webhooks_are_retried_and_recorded(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str
) -> None:
    flaky = Webhook(failures=1)
    try:
        chdb_store.insert_spans(_spans(project, 2, 50, errors=5, latency_ms=100, cost=0.01))
        with sessions() as session:
            channels = [
                {"type": "webhook", "url": flaky.url},
                {"type": "webhook", "url": "http://127.0.0.1:9/unreachable"},
            ]
            create_alert_rule(session, project, name="e", metric="error_rate", channels=channels)
            (event,) = evaluate_alerts(session, chdb_store, project, now=NOW, policy=FAST)
        delivered, dead = event.deliveries
        assert (delivered["ok"], delivered["attempts"]) == (True, 2)
        assert (dead["ok"], dead["attempts"]) == (False, 3) and dead["error"]
        assert [b["metric"] for b in flaky.bodies] == ["error_rate"]
    finally:
        flaky.close()


def test_installed_defaults_use_their_seed_thresholds_and_a_7_day_average(
    chdb_store: TraceStore, sessions: sessionmaker[Session], project: str, webhook: Webhook
) -> None:
    # Cost: 9 days ago 0.05 (outside the 7 days, ignored), 3 days ago 0.010, now 0.013 (1.3x
    # the 7-day average: fires; with the old rows averaged in it would not). Errors 3 of 200
    # (1.5% > 1%). p95 latency 190 ms against 100 ms (1.9x < 2x). Hallucinations 4% < 5%.
    chdb_store.insert_spans(_spans(project, 9 * 24, 200, errors=0, latency_ms=100, cost=0.05))
    chdb_store.insert_spans(_spans(project, 3 * 24, 200, errors=0, latency_ms=100, cost=0.010))
    chdb_store.insert_spans(_spans(project, 2, 200, errors=3, latency_ms=190, cost=0.013))
    chdb_store.insert_scores(_hallucination_scores(project, hallucinated=4, total=100))
    with sessions() as session:
        added = install_default_rules(session, project, [{"type": "webhook", "url": webhook.url}])
        assert sorted(r.metric for r in added) == sorted(METRICS.keys() - {"drift"})
        fired = evaluate_alerts(session, chdb_store, project, now=NOW, policy=FAST)
        session.commit()
    assert sorted(e.metric for e in fired) == ["cost_per_request", "error_rate"]
    by_metric = {body["metric"]: body for body in webhook.bodies}
    assert by_metric["cost_per_request"]["baseline"] == pytest.approx(0.010)
    assert by_metric["cost_per_request"]["limit"] == pytest.approx(0.012)
    assert by_metric["error_rate"]["value"] == pytest.approx(0.015)
    assert by_metric["error_rate"]["rule"] == "error-rate"
