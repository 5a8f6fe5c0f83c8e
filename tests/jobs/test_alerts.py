"""Alerts against real chDB and a real webhook server on 127.0.0.1: a breached rule is
delivered (and recorded) once, a healthy rule sends nothing, failing webhooks are retried."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from haloscope.platform.db.models import AlertEvent
from haloscope.platform.jobs.alert_rules import create_alert_rule
from haloscope.platform.jobs.alerts import WebhookPolicy, evaluate_alerts
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

NOW = datetime.now(UTC).replace(microsecond=0)
FAST = WebhookPolicy(timeout_s=2.0, attempts=3, backoff_s=0.05)


class Webhook:
    """A loopback HTTP server recording the JSON bodies POSTed to it; the first
    ``failures`` requests are answered 500."""

    def __init__(self, failures: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failures = failures
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                failing = hook.failures > 0
                hook.failures -= 1
                if not failing:
                    hook.bodies.append(json.loads(body))
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """A webhook server that answers 2xx."""
    hook = Webhook()
    yield hook
    hook.close()


def _spans(
    project_id: str, hours_ago: float, count: int, *, errors: int, latency_ms: int, cost: float
) -> list[dict[str, Any]]:
    start_us = int((NOW - timedelta(hours=hours_ago)).timestamp() * 1_000_000)
    return [
        {
            "project_id": project_id,
            "trace_id": uuid.uuid4().hex,
            "span_id": uuid.uuid4().hex[:16],
            "name": "generate",
            "kind": "llm",
            "start_time": start_us + i * 1000,
            "end_time": start_us + i * 1000 + latency_ms * 1000,
            "status": "error" if i < errors else "ok",
            "cost": cost,
        }
        for i in range(count)
    ]


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
