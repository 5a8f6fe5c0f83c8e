"""Datasets and CI eval runs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.web.layout import render_page
from haloscope.web.viewer import Scope

router = APIRouter(include_in_schema=False)


@router.get("/projects/{project_id}/datasets", response_class=HTMLResponse)
def datasets(request: Request, scope: Scope) -> HTMLResponse:
    """Datasets and CI eval runs are not available yet."""
    return render_page(request, "datasets.html", scope, "datasets")
