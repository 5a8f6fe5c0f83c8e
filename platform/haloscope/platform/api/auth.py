"""Project authentication: every data route runs as the project of the request's key pair."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.rate_limit import RateLimiter, retry_after_header
from haloscope.platform.auth.credentials import CredentialsError, parse_key_pair

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="haloscope", charset="UTF-8"'}


def authenticated_project(
    request: Request, ctx: Annotated[ApiContext, Depends(api_context)]
) -> str:
    """FastAPI dependency: the project id of a valid key pair (HTTP Basic or Bearer), else 401;
    a key over its rate limit is answered 429 with ``Retry-After``.

    A plain ``def``: FastAPI runs it in its thread pool, so a verification that misses the
    cache and reads the metadata DB never blocks the event loop.
    """
    header = request.headers.get("authorization")
    if not header:
        raise ApiError(
            401,
            "missing Authorization header: send the project key pair as HTTP Basic "
            "(public_key:secret_key) or 'Bearer public_key:secret_key'",
            _CHALLENGE,
        )
    try:
        public_key, secret_key = parse_key_pair(header)
    except CredentialsError as exc:
        raise ApiError(401, str(exc), _CHALLENGE) from exc
    project_id = ctx.verifier.verify(public_key, secret_key)
    if project_id is None:
        raise ApiError(401, "invalid API key pair (unknown, revoked or wrong secret)", _CHALLENGE)
    limiter: RateLimiter = request.app.state.rate_limiter
    wait_s = limiter.acquire(public_key)
    if wait_s > 0:
        settings = ctx.settings
        raise ApiError(
            429,
            f"rate limit exceeded for key {public_key}: {settings.rate_limit_per_s:g} requests/s "
            f"(burst {settings.rate_limit_burst}); retry after the Retry-After delay",
            retry_after_header(wait_s),
        )
    return project_id
