"""The items of an eval run: uploaded by ``haloscope eval run`` in batches (idempotent per run
and item), listed with a keyset cursor and filters, and exported as CSV or JSONL. Every route
runs as the project of the request's key pair; another project's run answers 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from haloscope.platform.api.context import ApiContext
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.eval_item_export import export_chunks, export_response
from haloscope.platform.api.ingest_routes import read_capped_body
from haloscope.platform.api.job_dependencies import Context, Project, Sessions
from haloscope.platform.api.responses import OrjsonResponse, json_body_openapi
from haloscope.platform.api.score_export import export_format
from haloscope.platform.evals import records
from haloscope.platform.evals.items import (
    UPLOAD_FIELDS,
    UploadError,
    decode_upload,
    item_row,
    item_view,
    run_key,
)
from haloscope.platform.ingest.body import decode_body
from haloscope.platform.store.eval_items import MAX_ITEM_PAGE, EvalItemStore, ItemFilter
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/v1")

Repeated = Annotated[list[str], Query()]
# The body is decoded by msgspec (evals/items.py), not by FastAPI: its shape is declared for
# the API docs and the fuzz tests.
_UPLOAD_SCHEMA = json_body_openapi(
    {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {name: {} for name in UPLOAD_FIELDS}},
            }
        },
    }
)


def recorded_run(sessions: sessionmaker[Session], project_id: str, run_id: str) -> dict[str, Any]:
    """The project's recorded run ``run_id``; 404 when the project has none (another
    project's run answers exactly like a missing one)."""
    with sessions() as session:
        try:
            return records.get_run(session, project_id, run_id)
        except records.NotFoundError as exc:
            raise ApiError(404, str(exc)) from exc


def item_filter(
    tag: Repeated = (),
    metric: str | None = None,
    min_score: float | None = None,
    max_score: float | None = None,
) -> ItemFilter:
    """The item list's and export's filter from the query string; 400 with the reason when it
    is invalid."""
    try:
        return ItemFilter(
            tags=tuple(t for t in tag if t), metric=metric or None, min_score=min_score,
            max_score=max_score,
        )  # fmt: skip
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


Filter = Annotated[ItemFilter, Depends(item_filter)]


def _store_items(
    ctx: ApiContext, sessions: sessionmaker[Session], project_id: str, run_id: str, body: bytes
) -> int:
    try:
        items = decode_upload(body)
    except UploadError as exc:
        raise ApiError(400, str(exc)) from exc
    run = recorded_run(sessions, project_id, run_id)
    key = run_key(project_id, run)
    rows = [item_row(key, item) for item in items]
    EvalItemStore(ctx.store.driver).insert(rows)
    return len(rows)


@router.post("/eval-runs/{run_id}/items", openapi_extra=_UPLOAD_SCHEMA)
async def upload_eval_items(
    run_id: str, request: Request, project_id: Project, ctx: Context, sessions: Sessions
) -> dict[str, Any]:
    """Store ``{"items": [...]}`` (at most 5,000 per request, gzip/deflate accepted) as items
    of the recorded run; an item sent again replaces its earlier upload. All or nothing: an
    invalid item refuses the request (400, naming it)."""
    settings = ctx.settings
    raw = await read_capped_body(request, settings.max_request_bytes)
    body = decode_body(raw, request.headers.get("content-encoding"), settings.max_request_bytes)
    accepted = await run_in_threadpool(_store_items, ctx, sessions, project_id, run_id, body)
    return {"run_id": run_id, "accepted": accepted}


@router.get("/eval-runs/{run_id}/items")
def list_eval_items(
    run_id: str,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
    flt: Filter,
    limit: Annotated[int, Query(ge=1, le=MAX_ITEM_PAGE)] = 100,
    cursor: str | None = None,
) -> OrjsonResponse:
    """One page of the run's items in dataset order, each with its output and every metric's
    score, label, reason and latency; ``next_cursor`` continues it."""
    recorded_run(sessions, project_id, run_id)
    try:
        page = EvalItemStore(ctx.store.driver).page(
            project_id, run_id, flt, limit=limit, cursor=cursor
        )
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    # Answered as is: the items' JSON columns travel as orjson fragments.
    return OrjsonResponse(
        {"data": [item_view(row) for row in page.rows], "next_cursor": page.next_cursor}
    )


@router.get("/eval-runs/{run_id}/items/export")
def export_eval_items(
    run_id: str,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
    flt: Filter,
    format: str = "csv",  # noqa: A002 - the documented query parameter
) -> StreamingResponse:
    """Every item of the run matching the list's filters as a CSV or JSONL download, streamed
    page by page (see ``api/eval_item_export.py`` for the columns)."""
    run = recorded_run(sessions, project_id, run_id)
    try:
        fmt = export_format(format)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
    metrics = list(run["summary"] or {})
    chunks = export_chunks(EvalItemStore(ctx.store.driver), project_id, run_id, flt, fmt, metrics)
    return export_response(chunks, run_id, fmt)
