"""Mounting the dashboard on the platform's FastAPI app."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore
from haloscope.web.context import DashboardContext
from haloscope.web.errors import install_page_error_handlers
from haloscope.web.pages import (
    agreement_page,
    annotation_pages,
    auth_pages,
    dataset_pages,
    drift_page,
    evaluation_pages,
    judge_pages,
    key_pages,
    overview_page,
    score_export_page,
    session_pages,
    trace_pages,
)
from haloscope.web.security import install_security_headers
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SESSION_TTL = timedelta(hours=12)
STATIC_DIR = Path(__file__).parent / "static"


def mount_dashboard(
    app: FastAPI,
    *,
    settings: Settings,
    store: TraceStore,
    sessionmaker: sessionmaker[Session],
    session_ttl: timedelta = DEFAULT_SESSION_TTL,
) -> None:
    """Attach the dashboard pages, its static assets and its security headers to ``app``."""
    app.state.dashboard = DashboardContext(settings, store, sessionmaker, session_ttl)
    install_page_error_handlers(app)
    install_security_headers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="dashboard-static")
    for module in (
        auth_pages,
        overview_page,
        trace_pages,
        session_pages,
        key_pages,
        evaluation_pages,
        agreement_page,
        judge_pages,
        annotation_pages,
        drift_page,
        dataset_pages,
        score_export_page,
    ):
        app.include_router(module.router)
