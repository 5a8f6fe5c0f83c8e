"""Signing in and out, the home redirect and the project switcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.auth.hashing import random_token
from haloscope.platform.auth.users import authenticate
from haloscope.platform.auth.web_sessions import (
    create_web_session,
    delete_web_session,
    resolve_web_session,
)
from haloscope.web.context import Context
from haloscope.web.errors import PageError
from haloscope.web.layout import SECTION_NAMES
from haloscope.web.security import check_csrf
from haloscope.web.templating import TEMPLATES
from haloscope.web.viewer import (
    SESSION_COOKIE,
    CurrentViewer,
    clear_session_cookie,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)

# Before sign-in there is no session to hold a CSRF token: the login form carries one that
# must equal this cookie's (double submit), so another site cannot sign a browser in.
LOGIN_CSRF_COOKIE = "haloscope_login_csrf"
LOGIN_CSRF_MAX_AGE_S = 3600


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else "/" (no open redirects)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _login_form(
    request: Request, next_path: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or random_token(32)
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {"csrf_token": token, "next": next_path, "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_MAX_AGE_S,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, ctx: Context, next_path: Annotated[str, Query(alias="next")] = "/"
) -> Response:
    """The sign-in form (or straight on, when already signed in)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with ctx.sessionmaker() as db:
            if resolve_web_session(db, token) is not None:
                return RedirectResponse(safe_next(next_path), status_code=303)
    return _login_form(request, safe_next(next_path))


@router.post("/login")
def login(
    request: Request,
    ctx: Context,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next_path: Annotated[str, Form(alias="next")] = "/",
) -> Response:
    """Check the credentials; open a session and set its cookie, or show the form again."""
    check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token)
    with ctx.sessionmaker.begin() as db:
        user = authenticate(db, email, password)
        if user is None:
            return _login_form(request, safe_next(next_path), "Wrong email or password.", 401)
        token, _ = create_web_session(db, user.id, ctx.session_ttl)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(response, request, token, ctx.session_ttl)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(
    viewer: CurrentViewer, ctx: Context, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    """End the session server-side and drop its cookie."""
    check_csrf(viewer.csrf_token, csrf_token)
    with ctx.sessionmaker.begin() as db:
        delete_web_session(db, viewer.session_token)
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, viewer: CurrentViewer) -> Response:
    """The first project's overview, or a note when the user belongs to no project."""
    if viewer.projects:
        return RedirectResponse(f"/projects/{viewer.projects[0].id}/overview", status_code=303)
    return TEMPLATES.TemplateResponse(request, "no_projects.html", {"viewer": viewer})


@router.get("/switch-project")
def switch_project(viewer: CurrentViewer, project: str, section: str = "overview") -> Response:
    """The project switcher's target: the same section of the chosen project."""
    chosen = viewer.project(project)
    if section not in SECTION_NAMES:
        raise PageError(400, f"Unknown section {section!r}.")
    return RedirectResponse(f"/projects/{chosen.id}/{section}", status_code=303)
