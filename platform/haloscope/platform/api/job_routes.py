"""Background-job routes: sampling rules and runs, drift reports, alert rules and alert history.

Everything is scoped to the project of the request's key pair: another project's rule, run or
report answers 404.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from celery import Celery
from fastapi import APIRouter, Depends, Query, Request, Response
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.db.models import DriftReportRecord, SamplingRule, SamplingRun
from haloscope.platform.jobs import alert_rules, baselines, drift_job, rules
from haloscope.platform.jobs.celery_app import create_celery_app
from haloscope.platform.jobs.sampling import run_as_dict
from haloscope.platform.jobs.tasks import start_drift_report, start_sampling_run
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

router = APIRouter(prefix="/api/v1")

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
Limit = Annotated[int, Query(ge=1, le=1000)]
_celery_lock = threading.Lock()


def metadata_sessions(request: Request) -> sessionmaker[Session]:
    """FastAPI dependency: the metadata DB session factory of the app."""
    return request.app.state.metadata_sessions


def celery_app(request: Request, ctx: Context) -> Celery:
    """FastAPI dependency: a Celery app on the configured broker, built once per API app."""
    with _celery_lock:
        app = getattr(request.app.state, "celery", None)
        if app is None:
            app = request.app.state.celery = create_celery_app(ctx.settings)
        return app


Sessions = Annotated[sessionmaker[Session], Depends(metadata_sessions)]
CeleryApp = Annotated[Celery, Depends(celery_app)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SamplingRuleBody(_Strict):
    """A new sampling rule (see ``docs/jobs.md``)."""

    name: str = Field(min_length=1, max_length=200)
    filters: dict[str, Any] = Field(default_factory=dict)
    sample_rate: float | None = None
    per_day: int | None = None
    evaluators: list[dict[str, Any]] = Field(
        default_factory=lambda: [dict(e) for e in rules.DEFAULT_EVALUATORS]
    )
    max_items_per_run: int = 1000
    window_hours: int = 24
    seed: int = 0
    batch_size: int = 16
    enabled: bool = True


class SamplingRuleChanges(_Strict):
    """Fields of a sampling rule to change; those left out keep their value."""

    name: str | None = Field(None, min_length=1, max_length=200)
    filters: dict[str, Any] | None = None
    sample_rate: float | None = None
    per_day: int | None = None
    evaluators: list[dict[str, Any]] | None = None
    max_items_per_run: int | None = None
    window_hours: int | None = None
    seed: int | None = None
    batch_size: int | None = None
    enabled: bool | None = None


class DriftBaselineBody(_Strict):
    """A window to pin as the project's drift baseline (ISO 8601 times with a zone)."""

    start: datetime
    end: datetime
    note: str = Field("", max_length=500)


class DriftRunBody(_Strict):
    """A drift report to compute now: the ``window_hours`` before ``end`` (default: now)."""

    window_hours: int = Field(24, ge=1, le=24 * 31)
    end: datetime | None = None


class AlertRuleBody(_Strict):
    """A new alert rule; ``threshold``/``relative`` default to the metric's defaults."""

    name: str = Field(min_length=1, max_length=200)
    metric: str
    threshold: float | None = None
    relative: bool | None = None
    window_hours: int = 24
    baseline_days: int = 7
    channels: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "log"}])
    enabled: bool = True


class DefaultAlertRulesBody(_Strict):
    """Where the default rules notify, and whether the app is factual (hallucination rule)."""

    channels: list[dict[str, Any]] = Field(default_factory=lambda: [{"type": "log"}])
    factual: bool = True


class AlertRuleChanges(_Strict):
    """Fields of an alert rule to change; those left out keep their value."""

    name: str | None = Field(None, min_length=1, max_length=200)
    threshold: float | None = None
    relative: bool | None = None
    window_hours: int | None = None
    baseline_days: int | None = None
    channels: list[dict[str, Any]] | None = None
    enabled: bool | None = None


def _sampling_rule(session: Session, project_id: str, rule: str) -> SamplingRule:
    found = rules.find_rule(session, project_id, rule)
    if found is None:
        raise ApiError(404, f"sampling rule {rule!r} not found")
    return found


def _rule_changes(body: SamplingRuleChanges) -> dict[str, Any]:
    """The fields sent; an explicit ``null`` only counts for ``sample_rate``/``per_day``
    (switching how a rule's sample is sized)."""
    sent = body.model_dump(exclude_unset=True)
    nullable = ("sample_rate", "per_day")
    bad = sorted(k for k, v in sent.items() if v is None and k not in nullable)
    if bad:
        raise ApiError(400, f"{bad} cannot be null")
    if "evaluators" in sent:
        sent["evaluators"] = tuple(sent["evaluators"])
    return sent


@router.post("/sampling-rules", status_code=201)
def create_sampling_rule(
    body: SamplingRuleBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Create a sampling rule in the key's project (409 when the name is taken)."""
    spec = rules.RuleSpec(**{**body.model_dump(), "evaluators": tuple(body.evaluators)})
    with sessions() as session:
        if rules.find_rule(session, project_id, body.name) is not None:
            raise ApiError(409, f"sampling rule {body.name!r} already exists")
        try:
            rule = rules.create_rule(session, project_id, spec)
        except rules.RuleError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return rules.rule_as_dict(rule)


@router.get("/sampling-rules")
def list_sampling_rules(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's sampling rules by name."""
    with sessions() as session:
        return {"data": [rules.rule_as_dict(r) for r in rules.list_rules(session, project_id)]}


@router.get("/sampling-rules/{rule}")
def get_sampling_rule(rule: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One sampling rule, by id or name."""
    with sessions() as session:
        return rules.rule_as_dict(_sampling_rule(session, project_id, rule))


@router.patch("/sampling-rules/{rule}")
def update_sampling_rule(
    rule: str, body: SamplingRuleChanges, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Change fields of a sampling rule; the result is validated as a whole."""
    changes = _rule_changes(body)
    with sessions() as session:
        found = _sampling_rule(session, project_id, rule)
        try:
            rules.update_rule(session, found, changes)
        except rules.RuleError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return rules.rule_as_dict(found)


@router.delete("/sampling-rules/{rule}", status_code=204)
def delete_sampling_rule(rule: str, project_id: Project, sessions: Sessions) -> Response:
    """Delete a sampling rule and its runs."""
    with sessions() as session:
        if not rules.delete_rule(session, project_id, rule):
            raise ApiError(404, f"sampling rule {rule!r} not found")
        session.commit()
    return Response(status_code=204)


@router.post("/sampling-rules/{rule}/runs", status_code=202)
def trigger_sampling_run(
    rule: str, project_id: Project, sessions: Sessions, celery: CeleryApp
) -> dict[str, Any]:
    """Start a sampling run of the rule now; poll ``/sampling-runs/{id}`` for its progress."""
    with sessions() as session:
        found = _sampling_rule(session, project_id, rule)
    run_id = start_sampling_run(celery, sessions, found, "api")
    with sessions() as session:
        run = session.get(SamplingRun, run_id)
        assert run is not None
        return run_as_dict(run)


@router.get("/sampling-rules/{rule}/runs")
def list_sampling_runs(
    rule: str, project_id: Project, sessions: Sessions, limit: Limit = 50
) -> dict[str, Any]:
    """The rule's runs, newest first."""
    with sessions() as session:
        found = _sampling_rule(session, project_id, rule)
        query = (
            select(SamplingRun)
            .where(SamplingRun.rule_id == found.id)
            .order_by(SamplingRun.started_at.desc())
            .limit(limit)
        )
        return {"data": [run_as_dict(r) for r in session.scalars(query)]}


@router.get("/sampling-runs/{run_id}")
def get_sampling_run(run_id: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """A run's status, progress (``batches_done / batches_total``) and counts."""
    with sessions() as session:
        run = session.get(SamplingRun, run_id)
        if run is None or run.project_id != project_id:
            raise ApiError(404, f"sampling run {run_id!r} not found")
        return run_as_dict(run)


@router.get("/drift-reports")
def list_drift_reports(
    project_id: Project, sessions: Sessions, limit: Limit = 50
) -> dict[str, Any]:
    """The project's drift reports, newest first."""
    with sessions() as session:
        reports = drift_job.list_reports(session, project_id, limit)
        return {"data": [drift_job.report_as_dict(r) for r in reports]}


@router.get("/drift-reports/{report_id}")
def get_drift_report(report_id: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One drift report with every feature's verdict and statistics."""
    with sessions() as session:
        report = session.get(DriftReportRecord, report_id)
        if report is None or report.project_id != project_id:
            raise ApiError(404, f"drift report {report_id!r} not found")
        return drift_job.report_as_dict(report)


@router.post("/drift-reports", status_code=202)
def trigger_drift_report(
    project_id: Project, sessions: Sessions, celery: CeleryApp, body: DriftRunBody | None = None
) -> dict[str, Any]:
    """Compute a drift report now (against the pinned baseline or the previous window); it
    appears under ``GET /drift-reports`` when done."""
    body = body or DriftRunBody()
    if body.end is not None and body.end.tzinfo is None:
        raise ApiError(400, "end has no time zone; add Z or +00:00")
    windows = start_drift_report(
        celery, sessions, project_id, end=body.end, window_hours=body.window_hours
    )
    return {"status": "queued", **windows.as_dict()}


@router.get("/drift-baseline")
def get_drift_baseline(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's pinned drift baseline (``null`` when drift compares the previous window)."""
    with sessions() as session:
        pinned = baselines.get_baseline(session, project_id)
        return {"baseline": None if pinned is None else baselines.baseline_as_dict(pinned)}


@router.put("/drift-baseline")
def pin_drift_baseline(
    body: DriftBaselineBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Pin ``[start, end)`` as the baseline of the project's drift reports (replaces one)."""
    with sessions() as session:
        try:
            pinned = baselines.pin_baseline(session, project_id, body.start, body.end, body.note)
        except baselines.BaselineError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return {"baseline": baselines.baseline_as_dict(pinned)}


@router.delete("/drift-baseline", status_code=204)
def clear_drift_baseline(project_id: Project, sessions: Sessions) -> Response:
    """Unpin the baseline: drift reports compare the previous window again."""
    with sessions() as session:
        if not baselines.clear_baseline(session, project_id):
            raise ApiError(404, "no drift baseline is pinned for this project")
        session.commit()
    return Response(status_code=204)


def _alert_rule(session: Session, project_id: str, rule: str) -> Any:
    found = alert_rules.find_alert_rule(session, project_id, rule)
    if found is None:
        raise ApiError(404, f"alert rule {rule!r} not found")
    return found


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
    with sessions() as session:
        if alert_rules.find_alert_rule(session, project_id, body.name) is not None:
            raise ApiError(409, f"alert rule {body.name!r} already exists")
        try:
            rule = alert_rules.create_alert_rule(session, project_id, **body.model_dump())
        except alert_rules.AlertRuleError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return alert_rules.alert_rule_as_dict(rule)


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
    with sessions() as session:
        found = alert_rules.list_alert_rules(session, project_id)
        return {"data": [alert_rules.alert_rule_as_dict(r) for r in found]}


@router.get("/alert-rules/{rule}")
def get_alert_rule(rule: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One alert rule, by id or name."""
    with sessions() as session:
        return alert_rules.alert_rule_as_dict(_alert_rule(session, project_id, rule))


@router.patch("/alert-rules/{rule}")
def update_alert_rule(
    rule: str, body: AlertRuleChanges, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Change fields of an alert rule (its metric is fixed)."""
    changes = body.model_dump(exclude_unset=True)
    nulls = sorted(k for k, v in changes.items() if v is None)
    if nulls:
        raise ApiError(400, f"{nulls} cannot be null")
    with sessions() as session:
        found = _alert_rule(session, project_id, rule)
        try:
            alert_rules.update_alert_rule(session, found, changes)
        except alert_rules.AlertRuleError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return alert_rules.alert_rule_as_dict(found)


@router.delete("/alert-rules/{rule}", status_code=204)
def delete_alert_rule(rule: str, project_id: Project, sessions: Sessions) -> Response:
    """Delete an alert rule and its history."""
    with sessions() as session:
        session.delete(_alert_rule(session, project_id, rule))
        session.commit()
    return Response(status_code=204)


@router.get("/alert-events")
def list_alert_events(
    project_id: Project, sessions: Sessions, rule: str | None = None, limit: Limit = 100
) -> dict[str, Any]:
    """The project's alert history, newest first; ``rule`` (id or name) narrows it."""
    with sessions() as session:
        rule_id = _alert_rule(session, project_id, rule).id if rule else None
        events = alert_rules.list_alert_events(session, project_id, rule_id, limit)
        return {"data": [alert_rules.alert_event_as_dict(e) for e in events]}
