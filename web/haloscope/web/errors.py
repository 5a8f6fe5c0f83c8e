"""Dashboard failures and how they are answered: a redirect to the login page, or an HTML
error page with the right status (never a stack trace, never JSON)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from haloscope.web.templating import TEMPLATES
from markupsafe import escape


class LoginRequired(Exception):
    """The request has no live session; the user is sent to the login page."""


class PageError(Exception):
    """A dashboard request that cannot be served: ``status_code`` and a plain ``message``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def login_redirect(request: Request) -> HTMLResponse:
    """303 to /login, remembering the page asked for, with the short hypertext note RFC 9110
    recommends for clients that do not follow redirects."""
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    location = f"/login?next={quote(target, safe='')}"
    note = f'<!doctype html><title>Haloscope</title><a href="{escape(location)}">Sign in to Haloscope</a>'
    return HTMLResponse(note, status_code=303, headers={"Location": location})


def install_page_error_handlers(app: FastAPI) -> None:
    """Answer LoginRequired with a redirect and PageError with an HTML error page."""

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _: LoginRequired) -> Response:
        return login_redirect(request)

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {"status_code": exc.status_code, "message": exc.message},
            status_code=exc.status_code,
        )
