"""Rendering a project page inside the shared layout (navigation, project switcher)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from haloscope.web.templating import TEMPLATES
from haloscope.web.viewer import ProjectScope

# (path segment, navigation label): the sections of every project.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("traces", "Traces"),
    ("sessions", "Sessions"),
    ("users", "Users"),
    ("evaluations", "Evaluations"),
    ("judges", "Judges"),
    ("annotation", "Annotation"),
    ("drift", "Drift"),
    ("datasets", "Datasets & eval runs"),
    ("keys", "API keys"),
)
SECTION_NAMES = frozenset(name for name, _ in SECTIONS)


def render_page(
    request: Request,
    template: str,
    scope: ProjectScope,
    section: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """``template`` with the layout's context: viewer, project, sections, active section."""
    return TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "viewer": scope.viewer,
            "project": scope.project,
            "sections": SECTIONS,
            "section": section,
            **context,
        },
        status_code=status_code,
    )
