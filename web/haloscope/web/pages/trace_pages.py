"""The trace explorer: the filterable list and one trace's tree, waterfall and span panel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.platform.api.trace_view import span_view
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.web.charts import span_bar
from haloscope.web.context import Context
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.timerange import PRESETS, parse_time_range
from haloscope.web.trace_params import PAGE_SIZE, SORT_LABELS, parse_trace_query
from haloscope.web.trace_view import (
    chat_messages,
    evidence_columns,
    evidence_items,
    span_rows,
)
from haloscope.web.viewer import Scope

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/traces", response_class=HTMLResponse)
def trace_list(
    scope: Scope,
    ctx: Context,
    request: Request,
) -> HTMLResponse:
    """A page of traces matching the filter form, newest first unless sorted otherwise."""
    params = dict(request.query_params)
    window = parse_time_range(params.get("range"))
    query = parse_trace_query(params, window)
    project_id = scope.project.id
    try:
        if query.threshold is None:
            page = ctx.store.list_traces(
                project_id, query.filters, limit=PAGE_SIZE, cursor=query.cursor, sort=query.sort
            )
        else:
            page = ctx.store.list_traces_by_score(
                project_id,
                query.filters,
                query.threshold,
                limit=PAGE_SIZE,
                cursor=query.cursor,
                sort=query.sort,
            )
    except ValueError as exc:  # a cursor that was not issued for this sort
        raise PageError(400, str(exc)) from None
    scores = ctx.store.scores_by_trace(project_id, [t["trace_id"] for t in page.items])
    return render_page(
        request,
        "traces.html",
        scope,
        "traces",
        query=query,
        window=window,
        presets=PRESETS,
        kinds=sorted(SPAN_KINDS),
        sorts=SORT_LABELS,
        score_names=ctx.store.score_names(project_id),
        traces=page.items,
        trace_scores=scores,
        next_link=query.link(cursor=page.next_cursor) if page.next_cursor else None,
        first_link=query.link(cursor=None) if query.cursor else None,
    )


def _presented_scores(scores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scores with their evidence parsed into per-claim rows where it is structured."""
    presented = []
    for score in scores:
        items = evidence_items(score["evidence"])
        presented.append(
            {
                **score,
                "evidence_items": items,
                "evidence_columns": evidence_columns(items) if items else [],
            }
        )
    return presented


@router.get("/projects/{project_id}/traces/{trace_id}", response_class=HTMLResponse)
def trace_detail(
    scope: Scope,
    ctx: Context,
    request: Request,
    trace_id: str,
    span: str | None = None,
) -> HTMLResponse:
    """The span tree with its waterfall, and the panel of the selected span (the root's by
    default)."""
    project_id = scope.project.id
    stored = ctx.store.get_trace(project_id, trace_id.lower())
    if stored is None:
        raise PageError(404, "This project has no trace with that id.")
    spans = [span_view(row) for row in stored]
    rows = span_rows(spans)
    selected = next((r.span for r in rows if r.span["span_id"] == span), rows[0].span)
    scores = ctx.store.trace_scores(project_id, trace_id.lower())
    scored_spans = {s["span_id"] for s in scores}
    return render_page(
        request,
        "trace.html",
        scope,
        "traces",
        trace_id=trace_id.lower(),
        rows=rows,
        bars={r.span["span_id"]: span_bar(r.offset, r.width, r.span["kind"]) for r in rows},
        selected_id=selected["span_id"],
        scored_spans=scored_spans,
        trace_scores=_presented_scores([s for s in scores if s["span_id"] == ""]),
        span=selected,
        input_messages=chat_messages(selected["input"]),
        output_messages=chat_messages(selected["output"]),
        span_scores=_presented_scores([s for s in scores if s["span_id"] == selected["span_id"]]),
        duration_us=max(s["end_time"] for s in spans) - min(s["start_time"] for s in spans),
    )
