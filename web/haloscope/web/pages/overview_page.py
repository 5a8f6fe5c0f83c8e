"""The project overview: volume, errors, latency, tokens and cost per day and per model, and
hallucination and faithfulness trends from the scores table."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.platform.store.overview_rollup import overview as overview_metrics
from haloscope.web.charts import Series, bar_chart, line_chart
from haloscope.web.context import Context
from haloscope.web.layout import render_page
from haloscope.web.templating import format_cost
from haloscope.web.timerange import PRESETS, TimeRange, parse_time_range
from haloscope.web.viewer import Scope
from markupsafe import Markup

router = APIRouter(include_in_schema=False)


def _percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def _ms(value: float) -> str:
    return f"{value:,.0f} ms"


def _daily_charts(window: TimeRange, daily: list[dict[str, Any]]) -> dict[str, Markup]:
    days = window.days()
    by_day = {row["day"]: row for row in daily}

    def column(key: str) -> list[float | None]:
        return [by_day[d][key] if d in by_day else None for d in days]

    def zeros(key: str) -> list[float]:
        return [v or 0.0 for v in column(key)]

    return {
        "volume": bar_chart("Traces per day", days, zeros("traces")),
        "errors": line_chart(
            "Error rate per day (share of spans)",
            days,
            [Series("error rate", column("error_rate"))],
            _percent,
        ),
        "latency": line_chart(
            "Span latency per day: p50, p95, p99",
            days,
            [
                Series("p50", column("latency_p50_ms")),
                Series("p95", column("latency_p95_ms")),
                Series("p99", column("latency_p99_ms")),
            ],
            _ms,
        ),
        "tokens": bar_chart("Tokens per day", days, zeros("total_tokens"), series_index=1),
        "cost": bar_chart("Cost per day (USD)", days, zeros("cost"), format_cost, 2),
    }


def _quality_chart(window: TimeRange, trends: list[dict[str, Any]]) -> Markup | None:
    """Hallucination rate and mean faithfulness per day, or None without such scores."""
    if not trends:
        return None
    days = window.days()
    rate = {r["day"]: r["flagged"] / r["scores"] for r in trends if r["metric"] == "hallucination"}
    faith = {r["day"]: r["mean_value"] for r in trends if r["metric"] == "faithfulness"}
    series = []
    if rate:
        series.append(Series("hallucination rate", [rate.get(d) for d in days]))
    if faith:
        series.append(Series("faithfulness", [faith.get(d) for d in days]))
    return line_chart(
        "Hallucination rate and mean faithfulness per day", days, series, _percent, 1.0
    )


@router.get("/projects/{project_id}/overview", response_class=HTMLResponse)
def overview(
    scope: Scope,
    ctx: Context,
    request: Request,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
) -> HTMLResponse:
    """The overview page for the chosen time range."""
    window = parse_time_range(range)
    project_id = scope.project.id
    now_us = time.time_ns() // 1000
    metrics = overview_metrics(ctx.store.driver, project_id, window.start_us, window.end_us, now_us)
    totals = metrics.totals
    trends = ctx.store.score_trends(project_id, window.start_us, window.end_us)
    return render_page(
        request,
        "overview.html",
        scope,
        "overview",
        window=window,
        presets=PRESETS,
        totals=totals[0] if totals else None,
        charts=_daily_charts(window, metrics.daily),
        by_model=metrics.by_model,
        exact=metrics.exact,
        quality_chart=_quality_chart(window, trends),
        quality_totals=_quality_totals(trends),
    )


def _quality_totals(trends: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per metric over the whole range: score count, flagged share and mean value."""
    totals: dict[str, dict[str, float]] = {}
    for row in trends:
        entry = totals.setdefault(row["metric"], {"scores": 0, "flagged": 0, "value_sum": 0.0})
        entry["scores"] += row["scores"]
        entry["flagged"] += row["flagged"]
        entry["value_sum"] += row["mean_value"] * row["scores"]
    for entry in totals.values():
        entry["rate"] = entry["flagged"] / entry["scores"]
        entry["mean"] = entry["value_sum"] / entry["scores"]
    return totals
