"""Ingest endpoints: the SDK batch format and OTLP/HTTP traces.

Each request is read under the size cap, then decoded, validated, encoded and handed whole to
the span writer, and answered once the writer has spooled its spans: a 2xx means the spans are
in the ingest spool and will reach the trace store even if the API process dies first (see
``ingest.spool``). When the writer's queue is full, the store is already
failing, or the spool cannot be written, the request is refused with 503 and nothing of it is
kept; the client's retry is deduplicated by span id, so nothing is lost or counted twice.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.responses import OrjsonResponse
from haloscope.platform.ingest.conversion import EncodedBatch, IngestRequest
from haloscope.platform.ingest.errors import PayloadError
from haloscope.platform.ingest.otlp import encode_export_response, media_type
from starlette.concurrency import run_in_threadpool

router = APIRouter()

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
_QUEUE_RETRY_AFTER_S = "1"
_STORE_RETRY_AFTER_S = "5"


@router.post("/api/v1/ingest")
async def ingest_sdk_batch(request: Request, project_id: Project, ctx: Context) -> Response:
    """Store a batch of spans in the SDK wire format (docs/wire-format.md)."""
    batch = await _accept(request, ctx, "sdk", "application/json", project_id)
    rejected = [
        {"index": r.index, "span_id": r.span_id, "reason": r.reason} for r in batch.rejected
    ]
    return OrjsonResponse(
        {"accepted": batch.n_rows, "rejected": rejected},
        status_code=207 if rejected else 200,
    )


@router.post("/v1/traces")
async def ingest_otlp_traces(request: Request, project_id: Project, ctx: Context) -> Response:
    """Store an OTLP/HTTP ``ExportTraceServiceRequest`` (protobuf or JSON)."""
    kind = media_type(request.headers.get("content-type"))
    batch = await _accept(request, ctx, "otlp", kind, project_id)
    return Response(encode_export_response(batch.rejected, kind), media_type=kind)


async def _accept(
    request: Request, ctx: ApiContext, fmt: Literal["sdk", "otlp"], kind: str, project_id: str
) -> EncodedBatch:
    """Read, decode and convert a request body, then store its valid spans, whole or not at all."""
    writer = ctx.writer
    if writer.store_failing:
        raise _store_unavailable("the trace store is failing; retry later")
    if not writer.has_room():
        raise _queue_full()
    settings = ctx.settings
    raw = await read_capped_body(request, settings.max_request_bytes)
    # Conversion is CPU-bound Python: on the event loop (threads would only take turns on the
    # GIL, and the hand-offs cost more than they give), or in worker processes with
    # ingest_workers (docs/api.md, "Ingest throughput").
    batch = await ctx.converter.convert(
        IngestRequest(
            fmt=fmt,
            body=raw,
            content_encoding=request.headers.get("content-encoding"),
            media_kind=kind,
            project_id=project_id,
            max_bytes=settings.max_request_bytes,
            max_spans=settings.max_spans_per_request,
            max_field_bytes=settings.max_field_bytes,
            prices=ctx.prices.get(project_id),
        )
    )
    if not batch.n_rows:
        return batch
    try:
        if settings.ingest_spool_fsync:  # blocks on the disk: in a thread
            submitted = await run_in_threadpool(writer.submit, batch.payload, batch.n_rows)
        else:
            submitted = writer.submit(batch.payload, batch.n_rows)
    except OSError as exc:
        raise _store_unavailable(
            f"the ingest spool cannot be written ({exc}); retry later"
        ) from exc
    if not submitted:
        raise _queue_full()
    return batch


async def read_capped_body(request: Request, max_bytes: int) -> bytes:
    """The raw request body, refused with 413 as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadError(413, f"request body exceeds {max_bytes} bytes")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_bytes:
            raise PayloadError(413, f"request body exceeds {max_bytes} bytes")
    return bytes(chunks)


def _queue_full() -> ApiError:
    return ApiError(
        503,
        "ingest queue is full (the trace store is behind or unavailable); retry later",
        {"Retry-After": _QUEUE_RETRY_AFTER_S},
    )


def _store_unavailable(reason: str) -> ApiError:
    return ApiError(503, reason, {"Retry-After": _STORE_RETRY_AFTER_S})
