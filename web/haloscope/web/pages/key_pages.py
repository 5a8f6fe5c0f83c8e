"""API key management: list, create (the secret is shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.auth.api_keys import (
    IssuedKey,
    create_api_key,
    list_api_keys,
    revoke_api_key,
)
from haloscope.platform.auth.errors import ValidationError
from haloscope.web.context import Context, DashboardContext
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.security import check_csrf
from haloscope.web.viewer import ProjectScope, Scope

router = APIRouter(include_in_schema=False)


def _keys_page(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    issued: IssuedKey | None = None,
    error: str | None = None,
) -> HTMLResponse:
    with ctx.sessionmaker() as db:
        keys = list_api_keys(db, scope.project.id, include_revoked=True)
    response = render_page(
        request,
        "keys.html",
        scope,
        "keys",
        status_code=400 if error else 200,
        keys=keys,
        issued=issued,
        error=error,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _require_key_manager(scope: ProjectScope, csrf_token: str) -> None:
    check_csrf(scope.viewer.csrf_token, csrf_token)
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot manage API keys; ask a project owner.")


@router.get("/projects/{project_id}/keys", response_class=HTMLResponse)
def keys_page(
    scope: Scope,
    ctx: Context,
    request: Request,
) -> HTMLResponse:
    """The project's keys, live and revoked."""
    return _keys_page(request, scope, ctx)


@router.post("/projects/{project_id}/keys", response_class=HTMLResponse)
def create_key(
    scope: Scope,
    ctx: Context,
    request: Request,
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Issue a key pair and show its secret this once (the page is not cached)."""
    _require_key_manager(scope, csrf_token)
    try:
        with ctx.sessionmaker.begin() as db:
            issued = create_api_key(db, scope.project.id, note.strip())
    except ValidationError as exc:
        return _keys_page(request, scope, ctx, error=str(exc))
    return _keys_page(request, scope, ctx, issued=issued)


@router.post("/projects/{project_id}/keys/{key_id}/revoke")
def revoke_key(
    scope: Scope,
    ctx: Context,
    key_id: str,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Revoke one of the project's live keys; ingest refuses it from then on."""
    _require_key_manager(scope, csrf_token)
    with ctx.sessionmaker.begin() as db:
        if not revoke_api_key(db, scope.project.id, key_id):
            raise PageError(404, "This project has no live key with that id.")
    return RedirectResponse(f"/projects/{scope.project.id}/keys", status_code=303)
