"""Drift: a project's stored drift reports (the latest by default, earlier ones by selector),
per feature its test statistic, adjusted p-value, verdict and baseline-vs-current histogram."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.platform.db.models import DriftReportRecord
from haloscope.platform.jobs.drift_job import list_reports
from haloscope.web.charts import Series, grouped_bar_chart
from haloscope.web.context import Context
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.templating import format_percent
from haloscope.web.viewer import Scope
from markupsafe import Markup

router = APIRouter(include_in_schema=False)

REPORTS_LISTED = 50
# The statistic each test reports as its headline value.
MAIN_STATISTIC = {"ks": "ks_statistic", "chi2": "chi2_statistic", "mmd_permutation": "mmd2"}
STATUS_LABELS = {"drift": "drifted", "no_drift": "no drift", "insufficient_data": "too little data"}


@dataclass(frozen=True)
class FeatureRow:
    """One feature of a report as the page shows it."""

    name: str
    kind: str
    test: str
    status: str
    status_label: str
    statistic_name: str
    statistic: str
    psi: str
    p_value: str
    p_adjusted: str
    n_reference: int
    n_current: int
    message: str | None
    chart: Markup | None


def format_p(value: float | None) -> str:
    """A p-value for reading: four decimals, ``< 0.0001`` below that, an em dash when absent."""
    if value is None:
        return "—"
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


def _format_stat(value: Any) -> str:
    return "—" if value is None else f"{value:.4g}"


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [count / total if total else 0.0 for count in counts]


def histogram_chart(feature: str, histogram: dict[str, Any]) -> Markup:
    """The baseline and current shares per bin (the report's stored counts) as side-by-side
    bars, so windows of different traffic compare."""
    return grouped_bar_chart(
        f"{feature}: share of the baseline and current windows per bin",
        histogram["labels"],
        [
            Series("baseline", _shares(histogram["baseline"])),
            Series("current", _shares(histogram["current"])),
        ],
        format_percent,
        y_max=1.0,
    )


def feature_rows(features: dict[str, Any]) -> list[FeatureRow]:
    """The report's features, drifted ones first, each with its histogram when it has one."""
    rows = []
    for name, feature in features.items():
        statistics = feature.get("statistics") or {}
        statistic_name = MAIN_STATISTIC.get(feature["test"], feature["test"])
        histogram = feature.get("histogram")
        rows.append(
            FeatureRow(
                name=name,
                kind=feature["kind"],
                test=feature["test"],
                status=feature["status"],
                status_label=STATUS_LABELS.get(feature["status"], feature["status"]),
                statistic_name=statistic_name,
                statistic=_format_stat(statistics.get(statistic_name)),
                psi=_format_stat(statistics.get("psi")),
                p_value=format_p(feature.get("p_value")),
                p_adjusted=format_p(feature.get("p_adjusted")),
                n_reference=feature["n_reference"],
                n_current=feature["n_current"],
                message=feature.get("message"),
                chart=histogram_chart(name, histogram) if histogram else None,
            )
        )
    return sorted(rows, key=lambda row: (row.status != "drift", row.name))


@router.get("/projects/{project_id}/drift", response_class=HTMLResponse)
def drift(request: Request, scope: Scope, ctx: Context, report: str | None = None) -> HTMLResponse:
    """The latest drift report of the project, or the one chosen with ``?report=``."""
    project_id = scope.project.id
    with ctx.sessionmaker() as session:
        reports = list_reports(session, project_id, REPORTS_LISTED)
        shown = reports[0] if reports and not report else None
        if report:
            shown = session.get(DriftReportRecord, report)
            if shown is None or shown.project_id != project_id:
                raise PageError(404, "No such drift report in this project.")
        session.expunge_all()
    features = feature_rows(shown.features) if shown is not None else []
    return render_page(
        request,
        "drift.html",
        scope,
        "drift",
        reports=reports,
        report=shown,
        features=features,
        daily_hour=ctx.settings.jobs_daily_hour_utc,
    )
