"""Alert evaluation: measure each enabled rule's metric, fire when it exceeds its limit,
notify the rule's channels (webhook POST with timeout and retries, the log) and record the
firing in ``alert_events``. A rule fires at most once per its window, so a breach that lasts
is not re-announced by every evaluation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from haloscope.platform.db.models import AlertEvent, AlertRule, utcnow
from haloscope.platform.jobs.alert_metrics import Measurement, measure
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookPolicy:
    """How webhooks are delivered: per-attempt timeout, attempts, backoff between them."""

    timeout_s: float = 5.0
    attempts: int = 3
    backoff_s: float = 0.5


def limit_of(rule: AlertRule, measurement: Measurement) -> float | None:
    """The value the metric must exceed to fire; None when a relative rule has no baseline."""
    if not rule.relative:
        return rule.threshold
    if not measurement.baseline:
        return None
    return rule.threshold * measurement.baseline


def post_webhook(url: str, payload: dict[str, Any], policy: WebhookPolicy) -> dict[str, Any]:
    """POST ``payload`` as JSON, retrying failures and non-2xx answers; the delivery record."""
    error = ""
    for attempt in range(1, policy.attempts + 1):
        try:
            response = httpx.post(url, json=payload, timeout=policy.timeout_s)
            if response.is_success:
                return {"type": "webhook", "url": url, "ok": True, "attempts": attempt}
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < policy.attempts:
            time.sleep(policy.backoff_s * 2 ** (attempt - 1))
    log.warning("alert webhook %s failed after %d attempts: %s", url, policy.attempts, error)
    return {"type": "webhook", "url": url, "ok": False, "attempts": policy.attempts, "error": error}


def notify(
    channels: list[dict[str, Any]], payload: dict[str, Any], policy: WebhookPolicy
) -> list[dict[str, Any]]:
    """Deliver ``payload`` to every channel; one delivery record per channel."""
    deliveries = []
    for channel in channels:
        if channel["type"] == "webhook":
            deliveries.append(post_webhook(channel["url"], payload, policy))
        else:
            log.warning("ALERT %s", payload["message"])
            deliveries.append({"type": "log", "ok": True})
    return deliveries


def _recently_fired(session: Session, rule: AlertRule, now: datetime) -> bool:
    since = now - timedelta(hours=rule.window_hours)
    query = select(AlertEvent.id).where(
        AlertEvent.rule_id == rule.id, AlertEvent.created_at > since
    )
    return session.scalars(query.limit(1)).first() is not None


def _message(rule: AlertRule, value: float, limit: float, baseline: float | None) -> str:
    versus = f" ({rule.threshold:g} x baseline {baseline:.6g})" if rule.relative else ""
    return f"{rule.name}: {rule.metric} = {value:.6g} exceeds {limit:.6g}{versus}"


def evaluate_alerts(
    session: Session,
    store: TraceStore,
    project_id: str,
    *,
    metrics: tuple[str, ...] | None = None,
    now: datetime | None = None,
    policy: WebhookPolicy | None = None,
) -> list[AlertEvent]:
    """Evaluate the project's enabled rules (those on ``metrics`` when given) and fire the
    breached ones; returns the new events (the caller commits)."""
    now = now or utcnow()
    query = select(AlertRule).where(AlertRule.project_id == project_id, AlertRule.enabled)
    if metrics is not None:
        query = query.where(AlertRule.metric.in_(metrics))
    fired = []
    for rule in session.scalars(query.order_by(AlertRule.name)):
        if _recently_fired(session, rule, now):
            continue
        measurement = measure(
            store,
            session,
            project_id,
            rule.metric,
            now=now,
            window_hours=rule.window_hours,
            baseline_days=rule.baseline_days,
        )
        limit = limit_of(rule, measurement)
        if measurement.value is None or limit is None or measurement.value <= limit:
            continue
        message = _message(rule, measurement.value, limit, measurement.baseline)
        payload = {
            "project_id": project_id,
            "rule_id": rule.id,
            "rule": rule.name,
            "metric": rule.metric,
            "value": measurement.value,
            "baseline": measurement.baseline,
            "limit": limit,
            "message": message,
            "fired_at": now.isoformat(),
        }
        event = AlertEvent(
            rule_id=rule.id,
            project_id=project_id,
            metric=rule.metric,
            value=measurement.value,
            baseline=measurement.baseline,
            limit_value=limit,
            message=message[:1000],
            deliveries=notify(rule.channels, payload, policy or WebhookPolicy()),
            created_at=now,
        )
        session.add(event)
        fired.append(event)
    session.flush()
    return fired
