"""Trace queries: the trace list, one trace's span tree, and metrics; all scoped to the
project of the request's key pair."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.query_params import choices, one_choice, parse_timestamp
from haloscope.platform.api.score_view import score_view
from haloscope.platform.api.trace_view import span_view, tree_json
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.platform.store.dashboard_queries import ScoreThreshold
from haloscope.platform.store.filters import TRACE_STATUSES, TraceFilter
from haloscope.platform.store.scores import ScoreStore
from haloscope.platform.store.span_tree import span_order

router = APIRouter(prefix="/api/v1")

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
Repeated = Annotated[list[str], Query()]
METRIC_GROUPS = ("day", "model")
DEFAULT_METRICS_WINDOW_US = 7 * 86_400 * 1_000_000


@router.get("/traces")
def list_traces(
    project_id: Project,
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
    kind: Repeated = (),
    name: Repeated = (),
    model: Repeated = (),
    tag: Repeated = (),
    user_id: str | None = None,
    session_id: str | None = None,
    release: str | None = None,
    status: str | None = None,
    q: str | None = None,
    score_name: str | None = None,
    score_min: float | None = None,
    score_max: float | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    sort: str = "start_time_desc",
) -> dict[str, Any]:
    """One page of the project's traces, newest first by default; ``score_name`` keeps the
    traces with a score of that name (judge or human; within ``score_min``/``score_max``)."""
    try:
        filters = TraceFilter(
            start_us=parse_timestamp("start", start),
            end_us=parse_timestamp("end", end),
            kinds=choices("kind", kind, SPAN_KINDS),
            names=tuple(name),
            models=tuple(model),
            tags=tuple(tag),
            user_id=user_id or None,
            session_id=session_id or None,
            release=release or None,
            status=one_choice("status", status, TRACE_STATUSES),
            search=q or None,
        )
        if score_name:
            threshold = ScoreThreshold(score_name, score_min, score_max)
            page = ctx.store.list_traces_by_score(
                project_id, filters, threshold, limit=limit, cursor=cursor, sort=sort
            )
        elif score_min is not None or score_max is not None:
            raise ApiError(400, "score_min and score_max need a score_name")
        else:
            page = ctx.store.list_traces(project_id, filters, limit=limit, cursor=cursor, sort=sort)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    return {"data": page.items, "next_cursor": page.next_cursor}


@router.get("/traces/{trace_id}")
def get_trace(trace_id: str, project_id: Project, ctx: Context) -> dict[str, Any]:
    """Every span of one trace, with the parent/child tree and every score of the trace and its
    spans; 404 when the project has none."""
    rows = ctx.store.get_trace(project_id, trace_id.lower())
    if not rows:
        raise ApiError(404, f"trace {trace_id} not found")
    spans = sorted((span_view(row) for row in rows), key=span_order)
    scores = ScoreStore(ctx.store.driver).of_trace(project_id, trace_id.lower())
    return {
        "trace_id": trace_id.lower(),
        "spans": spans,
        "tree": tree_json(spans),
        "scores": [score_view(row) for row in scores],
    }


@router.get("/metrics")
def metrics(
    project_id: Project,
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
    group_by: Repeated = (),
) -> dict[str, Any]:
    """Span count, error rate, latency percentiles, tokens and cost over ``[start, end)``
    (default: the last 7 days), grouped by any of ``day`` and ``model``."""
    end_us = parse_timestamp("end", end) or int(time.time() * 1_000_000)
    start_us = parse_timestamp("start", start)
    if start_us is None:
        start_us = end_us - DEFAULT_METRICS_WINDOW_US
    if end_us <= start_us:
        raise ApiError(400, "end must be after start")
    groups = choices("group_by", group_by, METRIC_GROUPS)
    try:
        data = ctx.store.metrics(project_id, start_us, end_us, groups)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    return {"start": start_us, "end": end_us, "group_by": list(groups), "data": data}
