"""What every dashboard route needs: settings, the trace store and the metadata DB."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from haloscope.platform.config import Settings
from haloscope.platform.store import TraceStore
from sqlalchemy.orm import Session, sessionmaker


@dataclass(frozen=True)
class DashboardContext:
    """Shared services of the dashboard, kept on ``app.state.dashboard``."""

    settings: Settings
    store: TraceStore
    sessionmaker: sessionmaker[Session]
    session_ttl: timedelta


def dashboard_context(request: Request) -> DashboardContext:
    """FastAPI dependency: the dashboard's services."""
    return request.app.state.dashboard


Context = Annotated[DashboardContext, Depends(dashboard_context)]
