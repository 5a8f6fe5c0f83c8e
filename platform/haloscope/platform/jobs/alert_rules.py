"""Alert rules: metrics with their default thresholds, validation and CRUD in the metadata DB."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from haloscope.platform.db.models import AlertEvent, AlertRule
from haloscope.platform.db.project_rows import find_named, list_named
from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass(frozen=True)
class MetricDefault:
    """A metric's default condition: above ``threshold`` (absolute) or above ``threshold`` x
    its baseline (``relative``)."""

    threshold: float
    relative: bool
    description: str


METRICS: dict[str, MetricDefault] = {
    "hallucination_rate": MetricDefault(0.05, False, "share of sampled spans judged hallucinated"),
    "error_rate": MetricDefault(0.01, False, "share of spans with status error"),
    "p95_latency_ms": MetricDefault(2.0, True, "95th percentile span latency (ms)"),
    "cost_per_request": MetricDefault(1.2, True, "mean cost per trace"),
    "drift": MetricDefault(0.0, False, "drifted features in the latest drift report"),
}
# The default rule set (metric, rule name): hallucination rate > 5% (factual apps only), cost
# per request > 1.2 x its 7-day average, p95 latency > 2 x baseline, error rate > 1%.
DEFAULT_RULES: tuple[tuple[str, str], ...] = (
    ("hallucination_rate", "hallucination-rate"),
    ("cost_per_request", "cost-per-request"),
    ("p95_latency_ms", "p95-latency"),
    ("error_rate", "error-rate"),
)
CHANNEL_TYPES = ("webhook", "log")
EDITABLE = ("name", "threshold", "relative", "window_hours", "baseline_days", "channels", "enabled")


class AlertRuleError(ValueError):
    """An alert rule field is invalid; the message names the field."""


def normalize_channels(channels: Any) -> list[dict[str, str]]:
    """Checked channels: ``{"type": "log"}`` or ``{"type": "webhook", "url": "http(s)://..."}``."""
    if not isinstance(channels, list):
        raise AlertRuleError("channels must be a list of {type, url}")
    checked = []
    for position, channel in enumerate(channels):
        if not isinstance(channel, Mapping) or channel.get("type") not in CHANNEL_TYPES:
            raise AlertRuleError(f"channels[{position}].type must be one of {list(CHANNEL_TYPES)}")
        if channel["type"] == "log":
            checked.append({"type": "log"})
            continue
        url = channel.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise AlertRuleError(f"channels[{position}].url must be an http(s) URL")
        checked.append({"type": "webhook", "url": url})
    return checked


def _check(values: Mapping[str, Any]) -> None:
    name = values["name"]
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise AlertRuleError("name must be 1-200 characters")
    if values["threshold"] < 0:
        raise AlertRuleError("threshold must be >= 0")
    if values["relative"] and values["metric"] in ("hallucination_rate", "error_rate", "drift"):
        raise AlertRuleError(f"metric {values['metric']} takes an absolute threshold")
    for key, low, high in (("window_hours", 1, 24 * 31), ("baseline_days", 1, 90)):
        if not low <= values[key] <= high:
            raise AlertRuleError(f"{key} must be in [{low}, {high}]")


def create_alert_rule(
    session: Session,
    project_id: str,
    *,
    name: str,
    metric: str,
    threshold: float | None = None,
    relative: bool | None = None,
    window_hours: int = 24,
    baseline_days: int = 7,
    channels: Any = ({"type": "log"},),
    enabled: bool = True,
) -> AlertRule:
    """Validate and add a rule (the caller commits); a threshold or mode left out takes the
    metric's default. A name already used in the project raises AlertRuleError."""
    if metric not in METRICS:
        raise AlertRuleError(f"unknown metric {metric!r}; use one of {sorted(METRICS)}")
    default = METRICS[metric]
    values = {
        "name": name,
        "metric": metric,
        "threshold": default.threshold if threshold is None else float(threshold),
        "relative": default.relative if relative is None else relative,
        "window_hours": window_hours,
        "baseline_days": baseline_days,
        "channels": normalize_channels(list(channels)),
        "enabled": enabled,
    }
    _check(values)
    if find_alert_rule(session, project_id, name) is not None:
        raise AlertRuleError(f"alert rule {name!r} already exists in this project")
    rule = AlertRule(project_id=project_id, **values)
    session.add(rule)
    session.flush()
    return rule


def install_default_rules(
    session: Session,
    project_id: str,
    channels: Any = ({"type": "log"},),
    *,
    factual: bool = True,
) -> list[AlertRule]:
    """Add the default rules (:data:`DEFAULT_RULES`, with the metrics' default thresholds, a
    24-hour window and a 7-day baseline) that the project lacks; the hallucination-rate rule
    only for a ``factual`` app. Returns the rules added (the caller commits)."""
    channels = normalize_channels(list(channels))
    added = []
    for metric, name in DEFAULT_RULES:
        if metric == "hallucination_rate" and not factual:
            continue
        if find_alert_rule(session, project_id, name) is None:
            added.append(
                create_alert_rule(session, project_id, name=name, metric=metric, channels=channels)
            )
    return added


def update_alert_rule(session: Session, rule: AlertRule, changes: Mapping[str, Any]) -> AlertRule:
    """Apply ``changes`` (fields of :data:`EDITABLE`) after validating the result."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise AlertRuleError(f"cannot change {unknown}; editable: {list(EDITABLE)}")
    values = {key: getattr(rule, key) for key in (*EDITABLE, "metric")}
    values.update(changes)
    if "channels" in changes:
        values["channels"] = normalize_channels(changes["channels"])
    _check(values)
    if values["name"] != rule.name and find_alert_rule(session, rule.project_id, values["name"]):
        raise AlertRuleError(f"alert rule {values['name']!r} already exists in this project")
    for key in EDITABLE:
        setattr(rule, key, values[key])
    session.flush()
    return rule


def list_alert_rules(session: Session, project_id: str) -> list[AlertRule]:
    """The project's alert rules by name."""
    return list_named(session, AlertRule, project_id)


def find_alert_rule(session: Session, project_id: str, id_or_name: str) -> AlertRule | None:
    """The project's alert rule with this id or name, or None."""
    return find_named(session, AlertRule, project_id, id_or_name)


def list_alert_events(
    session: Session, project_id: str, rule_id: str | None = None, limit: int = 100
) -> list[AlertEvent]:
    """The project's alert history, newest first (one rule's when ``rule_id`` is given)."""
    query = select(AlertEvent).where(AlertEvent.project_id == project_id)
    if rule_id is not None:
        query = query.where(AlertEvent.rule_id == rule_id)
    return list(session.scalars(query.order_by(AlertEvent.created_at.desc()).limit(limit)))


def alert_rule_as_dict(rule: AlertRule) -> dict[str, Any]:
    """A JSON-ready view of an alert rule."""
    return {
        "id": rule.id,
        "name": rule.name,
        "metric": rule.metric,
        "threshold": rule.threshold,
        "relative": rule.relative,
        "window_hours": rule.window_hours,
        "baseline_days": rule.baseline_days,
        "channels": rule.channels,
        "enabled": rule.enabled,
        "created_at": rule.created_at.isoformat(),
    }


def alert_event_as_dict(event: AlertEvent) -> dict[str, Any]:
    """A JSON-ready view of one alert firing."""
    return {
        "id": event.id,
        "rule_id": event.rule_id,
        "metric": event.metric,
        "value": event.value,
        "baseline": event.baseline,
        "limit": event.limit_value,
        "message": event.message,
        "deliveries": event.deliveries,
        "created_at": event.created_at.isoformat(),
    }
