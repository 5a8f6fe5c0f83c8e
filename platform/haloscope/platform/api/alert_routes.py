"""Alert metrics, alert rules (with the default set) and alert history, scoped to the key's
project (another project's rule answers 404)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from haloscope.platform.api import rule_crud
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.job_dependencies import Limit, Project, Sessions, StrictBody
from haloscope.platform.db.models import AlertRule
from haloscope.platform.jobs import alert_rules
from pydantic import Field
from sqlalchemy.orm import Session

router = APIRouter(prefix="/api/v1")


class AlertRuleBody(StrictBody):
    """A new alert rule; ``threshold``/``relative`` default to the metric's defaults."""

    name: str = Field(min_length=1, max_length=200)
    metric: str
    threshold: float | None = None
    relative: bool | None = None
    window_hours: int = 24
    baseline_days: int = 7
    channels: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "log"}])
    enabled: bool = True


class DefaultAlertRulesBody(StrictBody):
    """Where the default rules notify, and whether the app is factual (hallucination rule)."""

    channels: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "log"}])
    factual: bool = True


class AlertRuleChanges(StrictBody):
    """Fields of an alert rule to change; those left out keep their value."""

    name: str | None = Field(None, min_length=1, max_length=200)
    threshold: float | None = None
    relative: bool | None = None
    window_hours: int | None = None
    baseline_days: int | None = None
    channels: list[dict[str, Any]] | None = None
    enabled: bool | None = None


def _create_rule(session: Session, project_id: str, fields: dict[str, Any]) -> AlertRule:
    return alert_rules.create_alert_rule(session, project_id, **fields)


ALERT_RULES = rule_crud.RuleKind(
    label="alert rule",
    error=alert_rules.AlertRuleError,
    find=alert_rules.find_alert_rule,
    list_all=alert_rules.list_alert_rules,
    create=_create_rule,
    update=alert_rules.update_alert_rule,
    as_dict=alert_rules.alert_rule_as_dict,
)


@router.get("/alert-metrics")
def list_alert_metrics(_: Project) -> dict[str, Any]:
    """The metrics alert rules can watch, with their default thresholds."""
    return {
        "data": [{"metric": name, **vars(default)} for name, default in alert_rules.METRICS.items()]
    }


@router.post("/alert-rules", status_code=201)
def create_alert_rule(
    body: AlertRuleBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Create an alert rule in the key's project (409 when the name is taken)."""
    return rule_crud.create(ALERT_RULES, sessions, project_id, body)


@router.post("/alert-rules/defaults", status_code=201)
def install_default_alert_rules(
    project_id: Project, sessions: Sessions, body: DefaultAlertRulesBody | None = None
) -> dict[str, Any]:
    """Add the default rules the project lacks (hallucination > 5% for factual apps, cost per
    request > 1.2 x its 7-day average, p95 latency > 2 x baseline, error rate > 1%)."""
    body = body or DefaultAlertRulesBody()
    with sessions() as session:
        try:
            added = alert_rules.install_default_rules(
                session, project_id, body.channels, factual=body.factual
            )
        except alert_rules.AlertRuleError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return {"data": [alert_rules.alert_rule_as_dict(r) for r in added]}


@router.get("/alert-rules")
def list_alert_rules(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's alert rules by name."""
    return rule_crud.list_all(ALERT_RULES, sessions, project_id)


@router.get("/alert-rules/{rule}")
def get_alert_rule(rule: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One alert rule, by id or name."""
    return rule_crud.get(ALERT_RULES, sessions, project_id, rule)


@router.patch("/alert-rules/{rule}")
def update_alert_rule(
    rule: str, body: AlertRuleChanges, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Change fields of an alert rule (its metric is fixed)."""
    return rule_crud.update(ALERT_RULES, sessions, project_id, rule, body)


@router.delete("/alert-rules/{rule}", status_code=204)
def delete_alert_rule(rule: str, project_id: Project, sessions: Sessions) -> Response:
    """Delete an alert rule and its history."""
    return rule_crud.delete(ALERT_RULES, sessions, project_id, rule)


@router.get("/alert-events")
def list_alert_events(
    project_id: Project, sessions: Sessions, rule: str | None = None, limit: Limit = 100
) -> dict[str, Any]:
    """The project's alert history, newest first; ``rule`` (id or name) narrows it."""
    with sessions() as session:
        rule_id = rule_crud.find_or_404(ALERT_RULES, session, project_id, rule).id if rule else None
        events = alert_rules.list_alert_events(session, project_id, rule_id, limit)
        return {"data": [alert_rules.alert_event_as_dict(e) for e in events]}
