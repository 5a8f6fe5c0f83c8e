"""API errors and the handlers that answer every failure as ``{"error": reason}``."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from haloscope.platform.api.responses import OrjsonResponse
from haloscope.platform.ingest.errors import PayloadError
from haloscope.platform.store.base import StoreError
from starlette.exceptions import HTTPException


class ApiError(Exception):
    """An error answered with ``status_code`` and ``{"error": reason}``."""

    def __init__(
        self, status_code: int, reason: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason
        self.headers = dict(headers or {})


def error_response(
    status_code: int, reason: str, headers: Mapping[str, str] | None = None
) -> OrjsonResponse:
    """The JSON body every API error uses."""
    return OrjsonResponse({"error": reason}, status_code=status_code, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map API, payload, validation, routing and store errors to ``{"error": reason}``."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> OrjsonResponse:
        return error_response(exc.status_code, exc.reason, exc.headers)

    @app.exception_handler(PayloadError)
    async def _payload_error(_: Request, exc: PayloadError) -> OrjsonResponse:
        return error_response(exc.status_code, exc.reason)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> OrjsonResponse:
        reasons = []
        for error in exc.errors():
            location = ".".join(str(part) for part in error.get("loc", ()) if part != "query")
            reasons.append(f"{location}: {error.get('msg', 'invalid value')}")
        return error_response(400, "; ".join(reasons) or "invalid request")

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> OrjsonResponse:
        return error_response(exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(StoreError)
    async def _store_unavailable(_: Request, exc: StoreError) -> OrjsonResponse:
        return error_response(503, f"trace store unavailable: {exc}", {"Retry-After": "5"})
