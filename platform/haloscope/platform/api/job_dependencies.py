"""What the background-job route modules (sampling, drift, alerts) share: the key's project,
the metadata DB sessions, the Celery app, a page size, the strict request-body base and the
project-scoped lookup by id."""

from __future__ import annotations

import threading
from typing import Annotated, Any, TypeVar

from celery import Celery
from fastapi import Depends, Query, Request
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.jobs.celery_app import create_celery_app
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session, sessionmaker

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Row = TypeVar("Row")
_celery_lock = threading.Lock()


def metadata_sessions(request: Request) -> sessionmaker[Session]:
    """FastAPI dependency: the metadata DB session factory of the app."""
    return request.app.state.metadata_sessions


def celery_app(request: Request, ctx: Context) -> Celery:
    """FastAPI dependency: a Celery app on the configured broker, built once per API app."""
    with _celery_lock:
        app = getattr(request.app.state, "celery", None)
        if app is None:
            app = request.app.state.celery = create_celery_app(ctx.settings)
        return app


Sessions = Annotated[sessionmaker[Session], Depends(metadata_sessions)]
CeleryApp = Annotated[Celery, Depends(celery_app)]


class StrictBody(BaseModel):
    """A request body that refuses fields it does not declare."""

    model_config = ConfigDict(extra="forbid")


def project_row_or_404(
    session: Session, model: type[Row], row_id: str, project_id: str, label: str
) -> Row:
    """The ``model`` row with this id when it is the project's; else 404 ``<label> '<id>' not
    found`` (another project's row answers exactly like a missing one)."""
    row: Any = session.get(model, row_id)
    if row is None or row.project_id != project_id:
        raise ApiError(404, f"{label} {row_id!r} not found")
    return row
