"""Dashboard routes. For now one landing page: the full dashboard is not built yet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from haloscope.platform.config import Settings

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def mount_dashboard(app: FastAPI, *, settings: Settings, sessionmaker: Any) -> None:
    """Attach the dashboard pages to ``app``."""

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def landing(request: Request) -> HTMLResponse:
        return TEMPLATES.TemplateResponse(
            request, "landing.html", {"store": settings.store, "version": app.version}
        )
