"""The FastAPI application: ingest, query and health routes over one trace store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from haloscope.platform.api import (
    alert_routes,
    annotation_routes,
    drift_routes,
    eval_item_routes,
    eval_routes,
    feedback_routes,
    health_routes,
    ingest_routes,
    judge_routes,
    langfuse_routes,
    price_routes,
    query_routes,
    sampling_routes,
    score_config_routes,
    score_routes,
    session_routes,
)
from haloscope.platform.api.context import ApiContext
from haloscope.platform.api.errors import install_error_handlers
from haloscope.platform.api.rate_limit import RateLimiter
from haloscope.platform.api.responses import OrjsonResponse
from haloscope.platform.auth.api_keys import ApiKeyVerifier
from haloscope.platform.config import Settings
from haloscope.platform.ingest.conversion import RequestConverter
from haloscope.platform.ingest.spool import SpanSpool
from haloscope.platform.ingest.writer import SpanWriter
from haloscope.platform.pricing.project_prices import ProjectPriceTables
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool


def create_app(
    settings: Settings, *, store: TraceStore, sessionmaker: sessionmaker[Session]
) -> FastAPI:
    """Build the API over an opened, migrated ``store`` and the metadata DB ``sessionmaker``.

    The lifespan starts the span writer and the ingest worker processes (``ingest_workers``)
    and, on shutdown, stops the workers and writes every queued span before returning. The caller keeps ownership of ``store`` (it is not closed here).
    """
    writer = SpanWriter(
        store,
        SpanSpool(settings.ingest_spool_dir, fsync=settings.ingest_spool_fsync),
        batch_rows=settings.write_batch_rows,
        flush_interval_s=settings.write_flush_interval_s,
        max_queued_rows=settings.write_queue_max_rows,
    )
    converter = RequestConverter(settings.ingest_workers)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        writer.start()
        await run_in_threadpool(converter.start)
        try:
            yield
        finally:
            await run_in_threadpool(converter.stop)
            await run_in_threadpool(writer.stop)

    app = FastAPI(
        title="Haloscope API",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=OrjsonResponse,
    )
    app.state.haloscope = ApiContext(
        settings=settings,
        store=store,
        writer=writer,
        converter=converter,
        verifier=ApiKeyVerifier(sessionmaker, settings.auth_cache_ttl_s),
        prices=ProjectPriceTables(sessionmaker),
    )
    app.state.metadata_sessions = sessionmaker
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst)
    install_error_handlers(app)

    app.include_router(health_routes.router)
    app.include_router(ingest_routes.router)
    app.include_router(langfuse_routes.router)
    app.include_router(query_routes.router)
    app.include_router(session_routes.router)
    app.include_router(eval_routes.router)
    app.include_router(eval_item_routes.router)
    app.include_router(sampling_routes.router)
    app.include_router(drift_routes.router)
    app.include_router(alert_routes.router)
    app.include_router(score_routes.router)
    app.include_router(score_config_routes.router)
    app.include_router(feedback_routes.router)
    app.include_router(annotation_routes.router)
    app.include_router(price_routes.router)
    app.include_router(judge_routes.router)
    return app
