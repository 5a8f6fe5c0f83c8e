"""Evaluations: score distributions, sampling rules (list, create, edit) and sampling runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.db.models import SamplingBatch, SamplingRule, SamplingRun
from haloscope.platform.jobs import rules
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.web.context import Context
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.pages.rule_form import RuleForm
from haloscope.web.score_summary import score_summary_charts
from haloscope.web.security import check_csrf
from haloscope.web.timerange import PRESETS, parse_time_range
from haloscope.web.viewer import ProjectScope, Scope
from sqlalchemy import select
from sqlalchemy.orm import Session

router = APIRouter(include_in_schema=False)

RECENT_RUNS = 50
NEW_RULE = RuleForm.of(rules.RuleSpec(name="", sample_rate=0.1))
SubmittedRule = Annotated[RuleForm, Form()]
CsrfToken = Annotated[str, Form()]


@router.get("/projects/{project_id}/evaluations", response_class=HTMLResponse)
def evaluations(
    scope: Scope,
    ctx: Context,
    request: Request,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
) -> HTMLResponse:
    """Score distributions per score name, the sampling rules and their recent runs, and the
    quality cards of the evaluators measured on labelled data."""
    window = parse_time_range(range)
    summary = ctx.store.score_summary(scope.project.id, window.start_us, window.end_us)
    charts = score_summary_charts(summary)
    with ctx.sessionmaker() as db:
        rule_list = rules.list_rules(db, scope.project.id)
        runs = _recent_runs(db, scope.project.id)
    return render_page(
        request,
        "evaluations.html",
        scope,
        "evaluations",
        window=window,
        presets=PRESETS,
        summary=summary,
        charts=charts,
        rules=rule_list,
        runs=runs,
        can_edit=scope.project.can_edit,
        measured=[spec for spec in rules.rule_evaluators() if spec.quality is not None],
    )


@router.get("/projects/{project_id}/evaluations/rules/new", response_class=HTMLResponse)
def new_rule(scope: Scope, request: Request) -> HTMLResponse:
    """An empty rule form with the defaults of a new rule."""
    return _rule_form(request, scope, NEW_RULE, rule=None)


@router.post("/projects/{project_id}/evaluations/rules", response_class=HTMLResponse)
def create_rule(
    scope: Scope, ctx: Context, request: Request, form: SubmittedRule, csrf_token: CsrfToken = ""
) -> Response:
    """Create a rule; a refused one comes back in the form, as typed, with the reason."""
    _require_editor(scope, csrf_token)
    try:
        with ctx.sessionmaker.begin() as db:
            rules.create_rule(db, scope.project.id, rules.RuleSpec(**form.rule_fields()))
    except rules.RuleError as exc:
        return _rule_form(request, scope, form, rule=None, error=str(exc))
    return _back_to_evaluations(scope)


@router.get("/projects/{project_id}/evaluations/rules/{rule_id}", response_class=HTMLResponse)
def edit_rule(scope: Scope, ctx: Context, request: Request, rule_id: str) -> HTMLResponse:
    """The rule's edit form and its recent runs."""
    with ctx.sessionmaker() as db:
        rule = _rule(db, scope, rule_id)
        runs = _recent_runs(db, scope.project.id, rule.id)
    return _rule_form(request, scope, RuleForm.of(rule), rule=rule, runs=runs)


@router.post("/projects/{project_id}/evaluations/rules/{rule_id}", response_class=HTMLResponse)
def update_rule(
    scope: Scope,
    ctx: Context,
    request: Request,
    rule_id: str,
    form: SubmittedRule,
    csrf_token: CsrfToken = "",
) -> Response:
    """Save the edited rule, validated as a whole; a refused edit changes nothing."""
    _require_editor(scope, csrf_token)
    with ctx.sessionmaker() as db:
        rule = _rule(db, scope, rule_id)
        try:
            rules.update_rule(db, rule, form.rule_fields())
        except rules.RuleError as exc:
            db.rollback()
            return _rule_form(request, scope, form, rule=rule, error=str(exc))
        db.commit()
    return _back_to_evaluations(scope)


@router.get("/projects/{project_id}/evaluations/runs/{run_id}", response_class=HTMLResponse)
def sampling_run(scope: Scope, ctx: Context, request: Request, run_id: str) -> HTMLResponse:
    """One sampling run: its window, counts, error and judge batches."""
    with ctx.sessionmaker() as db:
        run = db.get(SamplingRun, run_id)
        if run is None or run.project_id != scope.project.id:
            raise PageError(404, "This project has no sampling run with that id.")
        rule = db.get(SamplingRule, run.rule_id)
        batches = list(
            db.scalars(
                select(SamplingBatch)
                .where(SamplingBatch.run_id == run.id)
                .order_by(SamplingBatch.position)
            )
        )
    return render_page(
        request, "sampling_run.html", scope, "evaluations", run=run, rule=rule, batches=batches
    )


def _recent_runs(
    db: Session, project_id: str, rule_id: str | None = None
) -> list[tuple[SamplingRun, str]]:
    """The project's (or one rule's) newest runs with their rule's name."""
    query = (
        select(SamplingRun, SamplingRule.name)
        .join(SamplingRule, SamplingRule.id == SamplingRun.rule_id)
        .where(SamplingRun.project_id == project_id)
        .order_by(SamplingRun.started_at.desc())
        .limit(RECENT_RUNS)
    )
    if rule_id is not None:
        query = query.where(SamplingRun.rule_id == rule_id)
    return [(run, name) for run, name in db.execute(query)]


def _rule(db: Session, scope: ProjectScope, rule_id: str) -> SamplingRule:
    rule = rules.find_rule(db, scope.project.id, rule_id)
    if rule is None:
        raise PageError(404, "This project has no sampling rule with that id.")
    return rule


def _require_editor(scope: ProjectScope, csrf_token: str) -> None:
    check_csrf(scope.viewer.csrf_token, csrf_token)
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot change sampling rules; ask a project owner.")


def _rule_form(
    request: Request,
    scope: ProjectScope,
    form: RuleForm,
    *,
    rule: SamplingRule | None,
    runs: list[tuple[SamplingRun, str]] | None = None,
    error: str | None = None,
) -> HTMLResponse:
    return render_page(
        request,
        "sampling_rule.html",
        scope,
        "evaluations",
        status_code=400 if error else 200,
        form=form,
        rule=rule,
        runs=runs or [],
        error=error,
        can_edit=scope.project.can_edit,
        span_kinds=sorted(SPAN_KINDS),
        evaluator_specs=rules.rule_evaluators(),
    )


def _back_to_evaluations(scope: ProjectScope) -> RedirectResponse:
    return RedirectResponse(f"/projects/{scope.project.id}/evaluations", status_code=303)
