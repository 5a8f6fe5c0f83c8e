"""Browser security for the dashboard: response headers and CSRF token checks."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from haloscope.web.errors import PageError

# The dashboard loads nothing from elsewhere and runs no inline script or style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
# The API's interactive docs load their viewer from a CDN; they keep the other headers.
_CSP_EXEMPT_PREFIXES = ("/docs", "/redoc")


def install_security_headers(app: FastAPI) -> None:
    """Add the security headers to every response, and the CSP to every dashboard page."""

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if not request.url.path.startswith(_CSP_EXEMPT_PREFIXES):
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


def check_csrf(expected: str, submitted: str | None) -> None:
    """Refuse (403) a form whose CSRF token is missing or differs from ``expected``."""
    if not submitted or not expected or not hmac.compare_digest(expected, submitted):
        raise PageError(403, "The form's security token is missing or invalid. Reload the page.")
