"""Sampling rules and their runs, scoped to the key's project (another project's rule or run
answers 404)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from haloscope.platform.api import rule_crud
from haloscope.platform.api.job_dependencies import (
    CeleryApp,
    Limit,
    Project,
    Sessions,
    StrictBody,
    project_row_or_404,
)
from haloscope.platform.db.models import SamplingRule, SamplingRun
from haloscope.platform.jobs import rules
from haloscope.platform.jobs.sampling import run_as_dict
from haloscope.platform.jobs.tasks import start_sampling_run
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

router = APIRouter(prefix="/api/v1")


class SamplingRuleBody(StrictBody):
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


class SamplingRuleChanges(StrictBody):
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


def _create_rule(session: Session, project_id: str, fields: dict[str, Any]) -> SamplingRule:
    spec = rules.RuleSpec(**{**fields, "evaluators": tuple(fields["evaluators"])})
    return rules.create_rule(session, project_id, spec)


SAMPLING_RULES = rule_crud.RuleKind(
    label="sampling rule",
    error=rules.RuleError,
    find=rules.find_rule,
    list_all=rules.list_rules,
    create=_create_rule,
    update=rules.update_rule,
    as_dict=rules.rule_as_dict,
    # An explicit null switches how a rule's sample is sized.
    nullable=("sample_rate", "per_day"),
)


@router.post("/sampling-rules", status_code=201)
def create_sampling_rule(
    body: SamplingRuleBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Create a sampling rule in the key's project (409 when the name is taken)."""
    return rule_crud.create(SAMPLING_RULES, sessions, project_id, body)


@router.get("/sampling-rules")
def list_sampling_rules(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's sampling rules by name."""
    return rule_crud.list_all(SAMPLING_RULES, sessions, project_id)


@router.get("/sampling-rules/{rule}")
def get_sampling_rule(rule: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One sampling rule, by id or name."""
    return rule_crud.get(SAMPLING_RULES, sessions, project_id, rule)


@router.patch("/sampling-rules/{rule}")
def update_sampling_rule(
    rule: str, body: SamplingRuleChanges, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Change fields of a sampling rule; the result is validated as a whole."""
    return rule_crud.update(SAMPLING_RULES, sessions, project_id, rule, body)


@router.delete("/sampling-rules/{rule}", status_code=204)
def delete_sampling_rule(rule: str, project_id: Project, sessions: Sessions) -> Response:
    """Delete a sampling rule and its runs."""
    return rule_crud.delete(SAMPLING_RULES, sessions, project_id, rule)


@router.post("/sampling-rules/{rule}/runs", status_code=202)
def trigger_sampling_run(
    rule: str, project_id: Project, sessions: Sessions, celery: CeleryApp
) -> dict[str, Any]:
    """Start a sampling run of the rule now; poll ``/sampling-runs/{id}`` for its progress."""
    with sessions() as session:
        found = rule_crud.find_or_404(SAMPLING_RULES, session, project_id, rule)
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
        found = rule_crud.find_or_404(SAMPLING_RULES, session, project_id, rule)
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
        return run_as_dict(
            project_row_or_404(session, SamplingRun, run_id, project_id, "sampling run")
        )
