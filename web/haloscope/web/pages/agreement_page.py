"""Evaluations > Agreement: how far an evaluator version agrees with the project's human labels
(accuracy and Cohen's kappa with bootstrap intervals, the confusion matrix, the disagreeing
items linked to their traces), recalibration from those labels, and the calibration versions
with restore and switch-off (owners and members, CSRF-protected forms)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.feedback import calibrations
from haloscope.platform.feedback.agreement import agreement_report
from haloscope.platform.feedback.labels import (
    EvaluatorNotFound,
    EvaluatorRef,
    LabelError,
    LabelQuery,
    evaluator_ref,
)
from haloscope.platform.feedback.recalibration import (
    DEFAULT_HOLDOUT,
    MAX_HOLDOUT,
    MIN_HOLDOUT,
    MIN_LABELS_PER_CLASS,
    RecalibrationConflict,
    RecalibrationRefused,
    recalibrate,
)
from haloscope.platform.jobs import rules
from haloscope.platform.judges import judge_evaluator_specs
from haloscope.web.context import Context, DashboardContext
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.security import check_csrf
from haloscope.web.timerange import PRESETS, parse_time_range
from haloscope.web.viewer import ProjectScope, Scope
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

router = APIRouter(include_in_schema=False)

DEFAULT_RANGE = "90d"
CalibrationVersion = Annotated[int, Path(ge=1, le=2**31 - 1)]
PAGE = "/projects/{project_id}/evaluations/agreement"


def _selected(evaluator: str | None, ctx: DashboardContext, project_id: str) -> EvaluatorRef | None:
    """The evaluator version picked as ``name@version`` (None when none is); ``custom:<name>``
    is one of the project's custom judges."""
    if not evaluator:
        return None
    name, _, version = evaluator.rpartition("@")
    if not name or not version:
        raise LabelError(f"pick an evaluator version as name@version, not {evaluator!r}")
    try:
        with ctx.sessionmaker() as db:
            return evaluator_ref(name, version, db, project_id)
    except EvaluatorNotFound as exc:
        raise LabelError(str(exc)) from None


def _judge_specs(ctx: DashboardContext, project_id: str) -> list[Any]:
    """Every version of the project's custom judges, as the evaluator picker lists them."""
    with ctx.sessionmaker() as db:
        return judge_evaluator_specs(db, project_id)


def _page(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    *,
    evaluator: str | None,
    label_name: str | None,
    positive: str | None,
    range_key: str | None,
    error: str | None = None,
    holdout: str = str(DEFAULT_HOLDOUT),
) -> HTMLResponse:
    """The agreement page for a selection; refusals show their reason on the page (400)."""
    window = parse_time_range(range_key or DEFAULT_RANGE)
    report, versions = None, []
    selection = {
        "evaluator": evaluator or "",
        "label_name": label_name or "",
        "positive": positive or "",
        "range": window.key,
    }
    try:
        ref = _selected(evaluator, ctx, scope.project.id)
        if ref is not None:
            with ctx.sessionmaker() as db:
                versions = calibrations.list_calibrations(
                    db, scope.project.id, ref.name, ref.version
                )
        if ref is not None and label_name:
            query = LabelQuery(ref, label_name, positive or None, window.start_us, window.end_us)
            report = agreement_report(ctx.store.driver, scope.project.id, query)
    except LabelError as exc:
        error = error or str(exc)
    return render_page(
        request,
        "agreement.html",
        scope,
        "evaluations",
        status_code=400 if error else 200,
        evaluators=rules.rule_evaluators() + _judge_specs(ctx, scope.project.id),
        score_names=ctx.store.score_names(scope.project.id),
        selection=selection,
        window=window,
        presets=PRESETS,
        report=report,
        versions=versions,
        error=error,
        holdout=holdout,
        min_labels=MIN_LABELS_PER_CLASS,
        can_edit=scope.project.can_edit,
    )


@router.get(PAGE, response_class=HTMLResponse)
def agreement_page(
    scope: Scope,
    ctx: Context,
    request: Request,
    evaluator: str | None = None,
    label_name: str | None = None,
    positive: str | None = None,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
) -> HTMLResponse:
    """Pick an evaluator version and a human label name; see their agreement and the
    project's calibrations of that evaluator version."""
    return _page(
        request,
        scope,
        ctx,
        evaluator=evaluator,
        label_name=label_name,
        positive=positive,
        range_key=range,
    )


class SelectionForm(BaseModel):
    """The fields every calibration form posts: the selection shown, the CSRF token and, when
    recalibrating, the held-back share as typed."""

    model_config = ConfigDict(extra="ignore")

    evaluator: str = ""
    label_name: str = ""
    positive: str = ""
    range: str = ""
    holdout: str = str(DEFAULT_HOLDOUT)
    csrf_token: str = ""

    def back(self, scope: ProjectScope) -> RedirectResponse:
        """303 to the agreement page of this selection."""
        fields = ("evaluator", "label_name", "positive", "range")
        query = urlencode({k: getattr(self, k) for k in fields if getattr(self, k)})
        page = PAGE.format(project_id=scope.project.id)
        return RedirectResponse(f"{page}?{query}", status_code=303)


SubmittedSelection = Annotated[SelectionForm, Form()]


def _editable_ref(scope: ProjectScope, form: SelectionForm, ctx: DashboardContext) -> EvaluatorRef:
    """The form's evaluator version, once the CSRF token and the viewer's role are checked."""
    check_csrf(scope.viewer.csrf_token, form.csrf_token)
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot change calibrations; ask a project owner or member.")
    try:
        ref = _selected(form.evaluator, ctx, scope.project.id)
    except LabelError as exc:
        raise PageError(400, str(exc)) from None
    if ref is None:
        raise PageError(400, "Pick an evaluator version first.")
    return ref


def _share(holdout: str) -> float:
    """The held-back share typed in the form."""
    try:
        return float(holdout)
    except ValueError:
        raise RecalibrationRefused(
            f"the held-back share must be a number between {MIN_HOLDOUT} and {MAX_HOLDOUT}, "
            f"not {holdout!r}"
        ) from None


@router.post(f"{PAGE}/recalibrate", response_class=HTMLResponse)
def recalibrate_from_labels(
    scope: Scope, ctx: Context, request: Request, form: SubmittedSelection
) -> Response:
    """Fit and store a new active calibration on the selection's labels; a refusal (too few
    labels of a class, a bad held-back share) comes back on the page with its reason."""
    ref = _editable_ref(scope, form, ctx)
    window = parse_time_range(form.range or DEFAULT_RANGE)
    try:
        query = LabelQuery(
            ref, form.label_name, form.positive or None, window.start_us, window.end_us
        )
        recalibrate(
            ctx.store.driver,
            ctx.sessionmaker,
            scope.project.id,
            query,
            holdout=_share(form.holdout),
            created_by=scope.viewer.email,
        )
    except (LabelError, RecalibrationRefused, RecalibrationConflict) as exc:
        return _page(
            request,
            scope,
            ctx,
            evaluator=form.evaluator,
            label_name=form.label_name,
            positive=form.positive,
            range_key=window.key,
            error=f"Not recalibrated: {exc}",
            holdout=form.holdout,
        )
    return form.back(scope)


def _change(
    scope: ProjectScope,
    ctx: DashboardContext,
    form: SelectionForm,
    change: Callable[[Session, EvaluatorRef], object],
) -> Response:
    """Apply ``change`` to the project's calibrations of the form's evaluator version; 404
    when the project has no such calibration."""
    ref = _editable_ref(scope, form, ctx)
    try:
        with ctx.sessionmaker.begin() as db:
            change(db, ref)
    except calibrations.CalibrationNotFound as exc:
        raise PageError(404, str(exc)) from None
    return form.back(scope)


@router.post(f"{PAGE}/calibrations/{{calibration}}/activate", response_class=HTMLResponse)
def restore_calibration(
    scope: Scope, ctx: Context, calibration: CalibrationVersion, form: SubmittedSelection
) -> Response:
    """Make an earlier calibration version the active one again."""
    project_id = scope.project.id
    return _change(
        scope,
        ctx,
        form,
        lambda db, ref: calibrations.activate_calibration(
            db, project_id, ref.name, ref.version, calibration
        ),
    )


@router.post(f"{PAGE}/calibrations/deactivate", response_class=HTMLResponse)
def deactivate_calibration(scope: Scope, ctx: Context, form: SubmittedSelection) -> Response:
    """Switch the project's calibration off: the evaluator's shipped calibration applies."""
    project_id = scope.project.id
    return _change(
        scope,
        ctx,
        form,
        lambda db, ref: calibrations.deactivate_calibrations(db, project_id, ref.name, ref.version),
    )
