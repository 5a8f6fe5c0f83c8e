"""The score API: post scores (one or a batch, per-item problems reported per item), list them
with filters and cursor pagination, delete one (a tombstone keeps the audit record). Every
route runs as the project of the request's key pair."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.ingest_routes import read_capped_body
from haloscope.platform.api.job_dependencies import Sessions
from haloscope.platform.api.query_params import choices, parse_timestamp
from haloscope.platform.api.responses import OrjsonResponse, json_body_openapi
from haloscope.platform.api.score_export import export_format, export_response
from haloscope.platform.api.score_view import score_view
from haloscope.platform.auth.credentials import parse_key_pair
from haloscope.platform.ingest.body import decode_body
from haloscope.platform.scores.configs import config_violation, configs_by_name
from haloscope.platform.scores.submission import (
    FIELDS,
    SCORE_SOURCES,
    ScoreRejected,
    ScoreSubmission,
    parse_submission,
)
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/v1")

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
Repeated = Annotated[list[str], Query()]
MAX_SCORES_PER_REQUEST = 1000
# The body is read raw (one score object, or ``scores`` alone holding a batch; each item is
# validated on its own): its schema is declared for the API docs and the fuzz tests.
_BODY_SCHEMA = json_body_openapi(
    {
        "type": "object",
        "properties": {
            **{field: {} for field in sorted(FIELDS)},
            "scores": {"type": "array", "items": {"type": "object"}},
        },
    }
)


@router.post("/scores", openapi_extra=_BODY_SCHEMA)
async def post_scores(
    request: Request, project_id: Project, ctx: Context, sessions: Sessions
) -> OrjsonResponse:
    """Store one score object or ``{"scores": [...]}``: 200 when every score was stored, 207
    with the rejected ones' index and reason otherwise (the valid ones are stored)."""
    settings = ctx.settings
    raw = await read_capped_body(request, settings.max_request_bytes)
    body = decode_body(raw, request.headers.get("content-encoding"), settings.max_request_bytes)
    items = _score_items(body)
    stored, rejected = await run_in_threadpool(store_scores, ctx, sessions, project_id, items)
    return OrjsonResponse(
        {"accepted": len(stored), "scores": stored, "rejected": rejected},
        status_code=207 if rejected else 200,
    )


def score_filter(
    name: Repeated = (),
    source: Repeated = (),
    trace_id: str | None = None,
    span_id: str | None = None,
    author: str | None = None,
    start: str | None = None,
    end: str | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    deleted: bool = False,
) -> ScoreFilter:
    """The filter of the score list and the score export, from the query string; 400 with
    the reason when it is invalid."""
    try:
        return ScoreFilter(
            names=tuple(name),
            sources=choices("source", source, SCORE_SOURCES),
            trace_id=(trace_id or "").lower() or None,
            span_id=(span_id or "").lower() or None,
            author=author or None,
            start_us=parse_timestamp("start", start),
            end_us=parse_timestamp("end", end),
            min_value=min_value,
            max_value=max_value,
            deleted=deleted,
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


Filter = Annotated[ScoreFilter, Depends(score_filter)]


@router.get("/scores")
def list_scores(
    project_id: Project,
    ctx: Context,
    flt: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """One page of the project's scores, newest target first; ``deleted=true`` lists the
    tombstones of deleted scores (who deleted them, and when)."""
    try:
        page = ScoreStore(ctx.store.driver).list(project_id, flt, limit=limit, cursor=cursor)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    return {"data": [score_view(row) for row in page.rows], "next_cursor": page.next_cursor}


@router.get("/scores/export")
def export_scores(
    project_id: Project,
    ctx: Context,
    flt: Filter,
    format: str = "csv",  # noqa: A002
) -> StreamingResponse:
    """Every score matching the list's filters as a CSV or JSONL download (``format``),
    streamed from the store page by page; see ``api/score_export.py`` for the columns."""
    try:
        fmt = export_format(format)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    return export_response(ScoreStore(ctx.store.driver), project_id, flt, fmt)


@router.delete("/scores/{score_id}")
def delete_score(
    score_id: str, request: Request, project_id: Project, ctx: Context
) -> dict[str, Any]:
    """Delete one of the project's scores; 404 when it has no live score with that id. The
    answer is the deleted score with ``deleted_by`` (the public key of the request)."""
    public_key, _ = parse_key_pair(request.headers["authorization"])
    row = ScoreStore(ctx.store.driver).delete(project_id, score_id.lower(), public_key)
    if row is None:
        raise ApiError(404, f"score {score_id} not found")
    return {**score_view(row), "deleted_by": public_key}


def _score_items(body: bytes) -> list[Any]:
    """The score objects of a request body: one object, or the list under ``"scores"``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, 'send one score object or {"scores": [...]}')
    if "scores" not in data:
        return [data]
    items = data["scores"]
    if not isinstance(items, list) or len(data) != 1:
        raise ApiError(400, '"scores" must be a list of score objects, alone in the body')
    if len(items) > MAX_SCORES_PER_REQUEST:
        raise ApiError(413, f"at most {MAX_SCORES_PER_REQUEST} scores per request")
    return items


def store_scores(
    ctx: ApiContext, sessions: sessionmaker[Session], project_id: str, items: list[Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Validate ``items``, place each at its client timestamp or its target's start, and
    insert the valid ones: (stored ``{index, id, timestamp}``, rejected ``{index, reason}``)."""
    valid, rejected = _validated(sessions, project_id, items)
    scores = ScoreStore(ctx.store.driver)
    unplaced = [s.trace_id for _, s in valid if s.timestamp_us is None]
    starts = scores.target_starts(project_id, unplaced)
    rows, stored = [], []
    for index, submission in valid:
        timestamp = submission.timestamp_us
        if timestamp is None:
            timestamp = starts.start_of(submission.trace_id, submission.span_id)
        if timestamp is None:
            rejected.append({"index": index, "reason": _not_found(submission)})
            continue
        rows.append(submission.row(project_id, timestamp))
        stored.append({"index": index, "id": submission.score_id, "timestamp": timestamp})
    scores.insert(rows)
    rejected.sort(key=lambda r: r["index"])
    return stored, rejected


def _validated(
    sessions: sessionmaker[Session], project_id: str, items: list[Any]
) -> tuple[list[tuple[int, ScoreSubmission]], list[dict[str, Any]]]:
    """The well-formed ``items`` that keep to their names' score configs, by index, and the
    others' ``{index, reason}``."""
    parsed: list[tuple[int, ScoreSubmission]] = []
    rejected: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            parsed.append((index, parse_submission(item)))
        except ScoreRejected as exc:
            rejected.append({"index": index, "reason": str(exc)})
    with sessions() as session:
        found = configs_by_name(session, project_id, [score.name for _, score in parsed])
    valid = []
    for index, score in parsed:
        config = found.get(score.name)
        problem = None if config is None else config_violation(config, score)
        if problem is None:
            valid.append((index, score))
        else:
            rejected.append({"index": index, "reason": problem})
    return valid, rejected


def _not_found(submission: ScoreSubmission) -> str:
    target = f"span {submission.span_id} of trace" if submission.span_id else "trace"
    return (
        f"{target} {submission.trace_id} is not stored in this project: send the score once "
        "its spans are stored, or give its timestamp"
    )
