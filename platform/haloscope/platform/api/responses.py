"""JSON responses serialised with orjson, and the OpenAPI declaration of a raw JSON body."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """A JSON response rendered by orjson (dataclasses and numpy-free, fast)."""

    def render(self, content: Any) -> bytes:
        """Serialise ``content``; non-JSON values (datetimes aside) are rendered with ``str``."""
        return orjson.dumps(content, default=str)


def json_body_openapi(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON body of ``schema``, for a route that reads its
    body raw (the API docs and the fuzz tests see its shape)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
