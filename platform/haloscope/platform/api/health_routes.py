"""Liveness of the API and its trace store, with the span writer's counters."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.responses import OrjsonResponse
from haloscope.platform.ingest.otlp_mapping import active_decoder

router = APIRouter()


@router.get("/api/health")
def health(ctx: Annotated[ApiContext, Depends(api_context)]) -> OrjsonResponse:
    """200 when the trace store answers, else 503; ``writer`` holds the ingest counters and
    ``otlp_decoder`` the OTLP decoder in use (``compiled`` or ``python``)."""
    store_ok = ctx.store.ping()
    return OrjsonResponse(
        {
            "status": "ok" if store_ok else "unavailable",
            "store": "ok" if store_ok else "unreachable",
            "writer": asdict(ctx.writer.stats()),
            "otlp_decoder": active_decoder(),
        },
        status_code=200 if store_ok else 503,
    )
