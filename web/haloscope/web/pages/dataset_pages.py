"""Datasets with their versions, eval runs recorded by the CI gate, and two runs side by side."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.platform.db.models import Dataset, DatasetVersion
from haloscope.platform.evals import records
from haloscope.web.context import Context
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.viewer import Scope
from sqlalchemy import select
from sqlalchemy.orm import Session

router = APIRouter(include_in_schema=False)

RECENT_RUNS = 100


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
    """The project's datasets (every version) and its recent eval runs."""
    with ctx.sessionmaker() as db:
        versions = _dataset_versions(db, scope.project.id)
        runs = records.list_runs(db, scope.project.id, RECENT_RUNS)
    return render_page(request, "datasets.html", scope, "datasets", datasets=versions, runs=runs)


@router.get("/projects/{project_id}/datasets/compare", response_class=HTMLResponse)
def compare_runs(
    request: Request, scope: Scope, ctx: Context, baseline: str = "", candidate: str = ""
) -> HTMLResponse:
    """Two eval runs side by side: per metric baseline vs candidate, and the gate's verdict."""
    if not baseline or not candidate:
        raise PageError(400, "Choose a baseline run and a candidate run to compare.")
    with ctx.sessionmaker() as db:
        try:
            base_run = records.get_run(db, scope.project.id, baseline)
            cand_run = records.get_run(db, scope.project.id, candidate)
        except records.NotFoundError as exc:
            raise PageError(404, f"This project has no such run: {exc}") from exc
    gate = cand_run["gate"]
    gated_here = bool(gate) and gate.get("baseline_run_id") == base_run["run_id"]
    return render_page(
        request,
        "eval_compare.html",
        scope,
        "datasets",
        baseline=base_run,
        candidate=cand_run,
        metrics=metric_comparisons(base_run, cand_run, gate if gated_here else None),
        gate=gate,
        gated_here=gated_here,
    )


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
