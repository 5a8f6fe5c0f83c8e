"""Datasets with their versions, eval runs recorded by the CI gate, and two or more runs of
one dataset version compared item by item."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.api.job_dependencies import celery_app
from haloscope.platform.db.models import Dataset, DatasetVersion
from haloscope.platform.evals import dashboard_runs, records
from haloscope.platform.evals.compare import CompareError, CompareQuery, compare_runs
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.target_registry import TargetRegistry, load_registry
from haloscope.platform.store.eval_items import EvalItemStore
from haloscope.web.context import Context, DashboardContext
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.security import check_csrf
from haloscope.web.viewer import ProjectScope, Scope
from sqlalchemy import select
from sqlalchemy.orm import Session

router = APIRouter(include_in_schema=False)

RECENT_RUNS = 100
REFRESH_S = 2
Repeated = Annotated[list[str], Query()]


@dataclass(frozen=True)
class MetricComparison:
    """One metric of two runs: their summaries, the change, and the gate's finding if the
    candidate was gated against this baseline."""

    name: str
    baseline: dict[str, Any] | None
    candidate: dict[str, Any] | None
    gate: dict[str, Any] | None

    @property
    def change(self) -> float | None:
        """Candidate value minus baseline value, when both runs have the metric."""
        if self.baseline is None or self.candidate is None:
            return None
        return float(self.candidate["value"]) - float(self.baseline["value"])


@router.get("/projects/{project_id}/datasets", response_class=HTMLResponse)
def datasets(request: Request, scope: Scope, ctx: Context) -> HTMLResponse:
    """The project's datasets (every version), its recent eval runs, and (for owners and
    members) the form that starts a run on a worker."""
    return _datasets_page(request, scope, ctx)


def _datasets_page(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    with ctx.sessionmaker() as db:
        versions = _dataset_versions(db, scope.project.id)
        runs = records.list_runs(db, scope.project.id, RECENT_RUNS)
        jobs = dashboard_runs.recent_jobs(db, scope.project.id)
    try:
        registry, registry_error = load_registry(ctx.settings.eval_targets), None
    except EvalUsageError as exc:
        registry, registry_error = TargetRegistry(), str(exc)
    return render_page(
        request,
        "datasets.html",
        scope,
        "datasets",
        status_code=400 if error else 200,
        datasets=versions,
        runs=runs,
        jobs=jobs,
        registry=registry,
        registry_error=registry_error,
        can_edit=scope.project.can_edit,
        error=error,
        form=form or {},
    )


@router.post("/projects/{project_id}/datasets/runs", response_class=HTMLResponse)
def start_eval_run(
    request: Request,
    scope: Scope,
    ctx: Context,
    dataset_version: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    config: Annotated[str, Form()] = "",
    prompt: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Start an eval run of a dataset version with a registered target and config on a
    worker (owners and members); a refused request comes back in the form with the reason."""
    check_csrf(scope.viewer.csrf_token, csrf_token)
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot start eval runs; ask a project owner.")
    form = {
        "dataset_version": dataset_version,
        "target": target,
        "config": config,
        "prompt": prompt,
    }
    name, _, number = dataset_version.rpartition("@")
    try:
        if not name or not (number.isascii() and number.isdigit()) or len(number) > 9:
            raise EvalUsageError("Choose a dataset version.")
        req = dashboard_runs.RunRequest(name, int(number), target, config, prompt.strip())
        job = dashboard_runs.start_run(
            celery_app(request, ctx),
            ctx.sessionmaker,
            load_registry(ctx.settings.eval_targets),
            scope.project.id,
            req,
            scope.viewer.email,
        )
    except EvalUsageError as exc:
        return _datasets_page(request, scope, ctx, error=str(exc), form=form)
    return RedirectResponse(
        f"/projects/{scope.project.id}/datasets/runs/{job['id']}", status_code=303
    )


@router.get("/projects/{project_id}/datasets/runs/{job_id}", response_class=HTMLResponse)
def eval_run_job(request: Request, scope: Scope, ctx: Context, job_id: str) -> HTMLResponse:
    """A run started from the dashboard: its progress (the page refreshes itself every two
    seconds until the run finishes), then links to the recorded run's comparison."""
    with ctx.sessionmaker() as db:
        job = dashboard_runs.get_job(db, scope.project.id, job_id)
        if job is None:
            raise PageError(404, "This project has no eval run job with that id.")
        runs = [
            r
            for r in records.list_runs(db, scope.project.id, RECENT_RUNS)
            if r["dataset"] == job["dataset"]
            and r["dataset_version"] == str(job["dataset_version"])
            and r["run_id"] != job["run_id"]
        ]
    response = render_page(request, "eval_run_job.html", scope, "datasets", job=job, baselines=runs)
    if not job["finished"]:
        response.headers["Refresh"] = str(REFRESH_S)
    return response


@router.get("/projects/{project_id}/datasets/compare", response_class=HTMLResponse)
def compare_runs_page(
    request: Request,
    scope: Scope,
    ctx: Context,
    run: Repeated = (),
    baseline: str = "",
    candidate: str = "",
    regressed: str = "",
    metric: str = "",
    tag: str = "",
    sort: str = "position",
    page: str = "1",
) -> HTMLResponse:
    """Runs of one dataset version side by side: per metric every run's value and the gate's
    verdict, then item by item (the first run is the baseline): each run's output with a word
    diff against the baseline's, each metric's score with its improved/regressed/unchanged
    badge, filters (regressed only, metric, tag), sorting by score change, pages of 50."""
    run_ids = [r for r in dict.fromkeys([baseline, candidate, *run]) if r]
    if len(run_ids) < 2:
        raise PageError(400, "Choose a baseline run and at least one candidate run to compare.")
    with ctx.sessionmaker() as db:
        try:
            runs = [records.get_run(db, scope.project.id, r) for r in run_ids[:8]]
        except records.NotFoundError as exc:
            raise PageError(404, f"This project has no such run: {exc}") from exc
    query = CompareQuery(
        regressed_only=regressed in ("1", "true", "on"),
        metric=metric or None,
        tag=tag or None,
        sort=sort,
        page=int(page) if page.isascii() and page.isdigit() and len(page) < 7 else 1,
    )
    try:
        comparison = compare_runs(EvalItemStore(ctx.store.driver), scope.project.id, runs, query)
    except CompareError as exc:
        raise PageError(400, str(exc)) from exc
    base_run = runs[0]
    gates = {r["run_id"]: _gate_against(r, base_run["run_id"]) for r in runs[1:]}
    return render_page(
        request,
        "eval_compare.html",
        scope,
        "datasets",
        comparison=comparison,
        baseline=base_run,
        candidates=runs[1:],
        gates=gates,
        metrics=metric_comparisons(base_run, runs[1], gates[runs[1]["run_id"]]),
        run_query=[("run", r["run_id"]) for r in runs],
        page_url=_page_url(scope.project.id, runs, query),
    )


def _gate_against(run: dict[str, Any], baseline_id: str) -> dict[str, Any] | None:
    """The run's gate report when it was gated against ``baseline_id``."""
    gate = run["gate"]
    return gate if gate and gate.get("baseline_run_id") == baseline_id else None


def _page_url(project_id: str, runs: list[dict[str, Any]], query: CompareQuery) -> Any:
    """Builds the URL of another page of the same comparison (same filters and order)."""

    def url(page: int) -> str:
        params = [("run", r["run_id"]) for r in runs]
        params += [
            (k, v)
            for k, v in (
                ("regressed", "1" if query.regressed_only else ""),
                ("metric", query.metric or ""),
                ("tag", query.tag or ""),
                ("sort", query.sort),
                ("page", str(page)),
            )
            if v
        ]
        return f"/projects/{project_id}/datasets/compare?{urlencode(params)}"

    return url


def metric_comparisons(
    baseline: dict[str, Any], candidate: dict[str, Any], gate: dict[str, Any] | None
) -> list[MetricComparison]:
    """Every metric of either run, in the candidate's order, with the gate's finding."""
    findings = {m["name"]: m for m in (gate or {}).get("metrics", [])}
    names = list(dict.fromkeys([*candidate["summary"], *baseline["summary"]]))
    return [
        MetricComparison(
            name,
            baseline["summary"].get(name),
            candidate["summary"].get(name),
            findings.get(name),
        )
        for name in names
    ]


def _dataset_versions(db: Session, project_id: str) -> dict[str, list[Any]]:
    """Dataset name -> its versions, newest first (without loading their items)."""
    rows = db.execute(
        select(
            Dataset.name,
            DatasetVersion.version,
            DatasetVersion.item_count,
            DatasetVersion.content_hash,
            DatasetVersion.source,
            DatasetVersion.created_at,
        )
        .join(DatasetVersion, DatasetVersion.dataset_id == Dataset.id)
        .where(Dataset.project_id == project_id)
        .order_by(Dataset.name, DatasetVersion.version.desc())
    )
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.name, []).append(row)
    return grouped
