"""Trace queries: the trace list, one trace's span tree, and metrics; all scoped to the
project of the request's key pair."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.query_params import (
    choices,
    one_choice,
    parse_timestamp,
    time_window,
)
from haloscope.platform.api.score_view import score_view
from haloscope.platform.api.trace_view import span_view, tree_json
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.platform.store.dashboard_queries import ScoreThreshold
from haloscope.platform.store.filters import (
    TRACE_STATUSES,
    TraceFilter,
    bound,
    duration_bound,
    metadata_conditions,
)
from haloscope.platform.store.metrics_queries import METRIC_GROUPS
from haloscope.platform.store.scores import ScoreStore
from haloscope.platform.store.span_tree import span_order

router = APIRouter(prefix="/api/v1")

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
Repeated = Annotated[list[str], Query()]


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
    metadata: Repeated = (),
    metadata_exists: Repeated = (),
    min_latency_ms: str | None = None,
    max_latency_ms: str | None = None,
    min_cost: str | None = None,
    max_cost: str | None = None,
) -> dict[str, Any]:
    """One page of the project's traces, newest first by default; ``score_name`` keeps the
    traces with a score of that name (judge or human; within ``score_min``/``score_max``);
    ``metadata`` (``key=value``, repeatable) and ``metadata_exists`` (a key) keep traces with a
    span carrying it; latency (ms) and cost (USD) bounds hold for the whole trace."""
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
            metadata=metadata_conditions(metadata),
            metadata_exists=tuple(key.strip() for key in metadata_exists if key.strip()),
            min_duration_us=duration_bound("min_latency_ms", min_latency_ms),
            max_duration_us=duration_bound("max_latency_ms", max_latency_ms),
            min_cost=bound("min_cost", min_cost),
            max_cost=bound("max_cost", max_cost),
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
    (default: the last 7 days), grouped by any of ``day``, ``model``, ``release``,
    ``prompt_name`` and ``prompt_version``."""
    start_us, end_us = time_window(start, end)
    groups = choices("group_by", group_by, METRIC_GROUPS)
    try:
        data = ctx.store.metrics(project_id, start_us, end_us, groups)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    return {"start": start_us, "end": end_us, "group_by": list(groups), "data": data}
