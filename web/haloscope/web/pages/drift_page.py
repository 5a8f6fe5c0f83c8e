"""Drift: the latest drift reports of a project."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.web.layout import render_page
from haloscope.web.viewer import Scope

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/drift", response_class=HTMLResponse)
def drift(request: Request, scope: Scope) -> HTMLResponse:
    """Drift detection is not available yet."""
    return render_page(request, "drift.html", scope, "drift")
