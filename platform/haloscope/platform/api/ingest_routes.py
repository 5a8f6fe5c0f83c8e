"""Ingest endpoints: the SDK batch format and OTLP/HTTP traces.

Each request is read under the size cap, then decoded, validated, encoded and handed whole to
the span writer, and answered once the writer has spooled its spans: a 2xx means the spans are
in the ingest spool and will reach the trace store even if the API process dies first (see
``ingest.spool``). When the writer's queue is full, the store is already
failing, or the spool cannot be written, the request is refused with 503 and nothing of it is
kept; the client's retry is deduplicated by span id, so nothing is lost or counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.responses import OrjsonResponse
from haloscope.platform.ingest.body import decode_body
from haloscope.platform.ingest.errors import PayloadError
from haloscope.platform.ingest.otlp import (
    decode_export_request,
    encode_export_response,
    media_type,
)
from haloscope.platform.ingest.otlp_mapping import convert_otlp_request
from haloscope.platform.ingest.results import ConvertedBatch
from haloscope.platform.ingest.sdk_batch import parse_sdk_batch
from starlette.concurrency import run_in_threadpool

router = APIRouter()

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
_QUEUE_RETRY_AFTER_S = "1"
_STORE_RETRY_AFTER_S = "5"


@router.post("/api/v1/ingest")
async def ingest_sdk_batch(request: Request, project_id: Project, ctx: Context) -> Response:
    """Store a batch of spans in the SDK wire format (docs/wire-format.md)."""
    settings = ctx.settings

    def convert(body: bytes) -> ConvertedBatch:
        return parse_sdk_batch(
            body,
            project_id,
            max_spans=settings.max_spans_per_request,
            max_field_bytes=settings.max_field_bytes,
        )

    batch = await _accept(request, ctx, convert)
    rejected = [
        {"index": r.index, "span_id": r.span_id, "reason": r.reason} for r in batch.rejected
    ]
    return OrjsonResponse(
        {"accepted": len(batch.rows), "rejected": rejected},
        status_code=207 if rejected else 200,
    )


@router.post("/v1/traces")
async def ingest_otlp_traces(request: Request, project_id: Project, ctx: Context) -> Response:
    """Store an OTLP/HTTP ``ExportTraceServiceRequest`` (protobuf or JSON)."""
    settings = ctx.settings
    kind = media_type(request.headers.get("content-type"))

    def convert(body: bytes) -> ConvertedBatch:
        return convert_otlp_request(
            decode_export_request(body, kind),
            project_id,
            max_spans=settings.max_spans_per_request,
            max_field_bytes=settings.max_field_bytes,
        )

    batch = await _accept(request, ctx, convert)
    return Response(encode_export_response(batch.rejected, kind), media_type=kind)


async def _accept(
    request: Request, ctx: ApiContext, convert: Callable[[bytes], ConvertedBatch]
) -> ConvertedBatch:
    """Read, decode and convert a request body, then store its valid spans, whole or not at all."""
    writer = ctx.writer
    if writer.store_failing:
        raise _store_unavailable("the trace store is failing; retry later")
    if not writer.has_room():
        raise _queue_full()
    max_bytes = ctx.settings.max_request_bytes
    raw = await read_capped_body(request, max_bytes)
    encoding = request.headers.get("content-encoding")

    # Decoding, validation and encoding run on the event loop: they are CPU-bound Python, so
    # threads would only take turns on the GIL, and the hand-offs cost more than they give
    # (docs/api.md, "Ingest throughput"). A spool that fsyncs blocks on the disk: in a thread.
    batch = convert(decode_body(raw, encoding, max_bytes))
    if not batch.rows:
        return batch
    payload = ctx.store.encode_spans(batch.rows)
    try:
        if ctx.settings.ingest_spool_fsync:
            submitted = await run_in_threadpool(writer.submit, payload, len(batch.rows))
        else:
            submitted = writer.submit(payload, len(batch.rows))
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
