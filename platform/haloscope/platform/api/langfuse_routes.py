"""The Langfuse SDK's endpoints, so that an application instrumented with the Langfuse SDK (v3
and later) sends to Haloscope unchanged: ``LANGFUSE_HOST`` set to the Haloscope API and
``LANGFUSE_PUBLIC_KEY`` / ``LANGFUSE_SECRET_KEY`` to a Haloscope key pair (the SDK sends them
as HTTP Basic, which every Haloscope route accepts).

* ``POST /api/public/otel/v1/traces``: the SDK's span export, OTLP/HTTP like ``/v1/traces``;
  its ``langfuse.*`` attributes are mapped by ``ingest.otlp_langfuse``.
* ``POST /api/public/ingestion``: the SDK's batch of ``score-create`` events (``create_score``,
  ``score_current_span``), stored as ``POST /api/v1/scores`` would store them. The answer is
  Langfuse's: 207 with ``successes`` and ``errors`` per event; an event of another type is an
  error (traces come over OTLP).
* ``GET /api/public/projects``: the key's project (the SDK's ``auth_check``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.ingest_routes import ingest_otlp_traces, read_capped_body
from haloscope.platform.api.job_dependencies import Sessions
from haloscope.platform.api.responses import OrjsonResponse
from haloscope.platform.api.score_routes import MAX_SCORES_PER_REQUEST, store_scores
from haloscope.platform.db.models import Project as ProjectRow
from haloscope.platform.ingest.body import decode_body
from starlette.concurrency import run_in_threadpool

router = APIRouter(prefix="/api/public")

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
SCORE_CREATE = "score-create"
# Langfuse's score data types -> the value Haloscope stores (a number, boolean or category).
_BOOLEAN, _CATEGORICAL, _NUMERIC = "BOOLEAN", "CATEGORICAL", "NUMERIC"
_ORGANIZATION = {"id": "haloscope", "name": "Haloscope"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@router.post("/otel/v1/traces")
async def langfuse_otlp_traces(request: Request, project_id: Project, ctx: Context) -> Response:
    """The Langfuse SDK's OTLP span export: stored like ``POST /v1/traces``."""
    return await ingest_otlp_traces(request, project_id, ctx)


@router.get("/projects")
def langfuse_projects(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The key's project, in the shape of Langfuse's project list."""
    with sessions() as session:
        project = session.get(ProjectRow, project_id)
        name = project.name if project is not None else project_id
    return {
        "data": [{"id": project_id, "name": name, "organization": _ORGANIZATION, "metadata": {}}]
    }


@router.post("/ingestion")
async def langfuse_ingestion(
    request: Request, project_id: Project, ctx: Context, sessions: Sessions
) -> OrjsonResponse:
    """A Langfuse ingestion batch: its ``score-create`` events stored as scores; 207 with the
    ``successes`` (status 201) and ``errors`` (status 400, the reason) of its events."""
    settings = ctx.settings
    raw = await read_capped_body(request, settings.max_request_bytes)
    body = decode_body(raw, request.headers.get("content-encoding"), settings.max_request_bytes)
    events = _events(body)
    scores: list[dict[str, Any]] = []
    event_ids: list[str] = []
    errors: list[dict[str, Any]] = []
    for event in events:
        event_id = str(event.get("id", "")) if isinstance(event, dict) else ""
        try:
            scores.append(score_of_event(event))
        except ValueError as exc:
            errors.append({"id": event_id, "status": 400, "message": str(exc)})
            continue
        event_ids.append(event_id)
    stored, rejected = await run_in_threadpool(store_scores, ctx, sessions, project_id, scores)
    successes = [{"id": event_ids[item["index"]], "status": 201} for item in stored]
    errors.extend(
        {"id": event_ids[item["index"]], "status": 400, "message": item["reason"]}
        for item in rejected
    )
    return OrjsonResponse({"successes": successes, "errors": errors}, status_code=207)


def _events(body: bytes) -> list[Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}") from exc
    events = data.get("batch") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise ApiError(400, 'send a Langfuse ingestion batch: {"batch": [event, ...]}')
    if len(events) > MAX_SCORES_PER_REQUEST:
        raise ApiError(413, f"at most {MAX_SCORES_PER_REQUEST} events per request")
    return events


def score_of_event(event: Any) -> dict[str, Any]:
    """A Langfuse ``score-create`` event as a ``POST /api/v1/scores`` score object: its trace
    and observation as the target, its value typed by ``dataType``, its score id as the
    idempotency key (Langfuse upserts a score by id), the event's time as the timestamp;
    ``ValueError`` for another event type or a score without a trace."""
    if not isinstance(event, dict) or event.get("type") != SCORE_CREATE:
        kind = event.get("type") if isinstance(event, dict) else None
        raise ValueError(
            f"event type {kind!r} is not taken: Haloscope stores Langfuse traces from OTLP "
            f"(/api/public/otel/v1/traces) and {SCORE_CREATE!r} events"
        )
    body = event.get("body")
    if not isinstance(body, dict):
        raise ValueError("a score-create event needs a 'body' object")
    if not body.get("traceId"):
        raise ValueError(
            "a score needs a traceId: Haloscope scores traces and their spans "
            "(session and dataset-run scores are not stored)"
        )
    score: dict[str, Any] = {
        "trace_id": body.get("traceId"),
        "span_id": body.get("observationId"),
        "name": body.get("name"),
        "value": _score_value(body.get("value"), body.get("dataType")),
        "comment": body.get("comment"),
        "source": "sdk",
        "timestamp": _timestamp_us(event.get("timestamp")),
    }
    if body.get("id"):
        score["idempotency_key"] = str(body["id"])
    return score


def _score_value(value: Any, data_type: Any) -> Any:
    if data_type == _BOOLEAN:
        if not isinstance(value, int | float | bool) or value not in (0, 1):
            raise ValueError(f"a BOOLEAN score needs 1 or 0, not {value!r}")
        return bool(value)
    if data_type == _CATEGORICAL and value is not None and not isinstance(value, str):
        return str(value)
    if data_type == _NUMERIC and isinstance(value, str):
        raise ValueError(f"a NUMERIC score needs a number, not {value!r}")
    return value


def _timestamp_us(value: Any) -> int | None:
    """An ISO 8601 event time as epoch microseconds; None when absent or unreadable (the
    score is then placed at its target's start)."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return (moment - _EPOCH) // timedelta(microseconds=1)
