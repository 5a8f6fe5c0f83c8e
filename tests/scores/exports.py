"""Reading the score export of the API, for the tests that compare another path with it."""

from __future__ import annotations

import httpx


def api_export(base_url: str, auth: tuple[str, str], **params: object) -> bytes:
    """The body of ``GET /api/v1/scores/export`` with ``params``, as the key pair ``auth``."""
    with httpx.Client(base_url=base_url, auth=auth, timeout=60) as api:
        response = api.get("/api/v1/scores/export", params=params)
        assert response.status_code == 200, response.text
        return response.content
