"""JSON responses serialised with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """A JSON response rendered by orjson (dataclasses and numpy-free, fast)."""

    def render(self, content: Any) -> bytes:
        """Serialise ``content``; non-JSON values (datetimes aside) are rendered with ``str``."""
        return orjson.dumps(content, default=str)
