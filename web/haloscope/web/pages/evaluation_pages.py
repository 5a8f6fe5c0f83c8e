"""Evaluations: score distributions per score name (sampling rules and runs to come)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.web.charts import bar_chart
from haloscope.web.context import Context
from haloscope.web.layout import render_page
from haloscope.web.timerange import PRESETS, parse_time_range
from haloscope.web.viewer import Scope

router = APIRouter(include_in_schema=False)

BIN_LABELS = [f"{i / 10:.1f}–{(i + 1) / 10:.1f}" for i in range(10)]


@router.get("/projects/{project_id}/evaluations", response_class=HTMLResponse)
def evaluations(
    scope: Scope,
    ctx: Context,
    request: Request,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
) -> HTMLResponse:
    """Score distributions per score name; sampling rules and runs are not available yet."""
    window = parse_time_range(range)
    summary = ctx.store.score_summary(scope.project.id, window.start_us, window.end_us)
    charts = {
        row["name"]: bar_chart(
            f"Distribution of {row['name']} scores", BIN_LABELS, row["histogram"]
        )
        for row in summary
    }
    return render_page(
        request,
        "evaluations.html",
        scope,
        "evaluations",
        window=window,
        presets=PRESETS,
        summary=summary,
        charts=charts,
    )
