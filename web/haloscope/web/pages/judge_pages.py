"""Custom judges: the project's judges and their versions, the built-in templates, and a form
that previews an unsaved judge on a few chosen traces before saving it (owners and members)."""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.jobs.runtime import judge_resources
from haloscope.platform.judges import (
    JudgeSpecError,
    builtin_templates,
    judge_as_dict,
    judge_versions,
    list_judges,
    preview_judge,
    save_judge,
)
from haloscope.web.context import Context, DashboardContext
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.security import check_csrf
from haloscope.web.viewer import ProjectScope, Scope

router = APIRouter(include_in_schema=False)
_resources_lock = threading.Lock()
FORM_FIELDS = ("name", "description", "system", "template", "mode", "choices", "positive",
               "labels", "threshold")  # fmt: skip


def _resources(request: Request, ctx: DashboardContext) -> Any:
    """The judge engine previews run on (the configured backend), loaded once per app."""
    with _resources_lock:
        resources = getattr(request.app.state, "judge_preview_resources", None)
        if resources is None:
            resources = request.app.state.judge_preview_resources = judge_resources(ctx.settings)
        return resources


def _form_from_spec(spec: dict[str, Any]) -> dict[str, str]:
    """A spec (template or stored) as the form's text fields."""
    return {
        "name": str(spec.get("name", "")),
        "description": str(spec.get("description", "")),
        "system": str(spec.get("system", "")),
        "template": str(spec.get("template", "")),
        "mode": str(spec.get("mode", "choice")),
        "choices": ", ".join(spec.get("choices") or []),
        "positive": str(spec.get("positive") or ""),
        "labels": ", ".join(spec.get("labels") or []),
        "threshold": str(spec.get("threshold", 0.5)),
    }


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def spec_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The judge spec the form describes (validated when previewed or saved)."""
    raw: dict[str, Any] = {
        "name": form["name"].strip(),
        "description": form["description"],
        "system": form["system"].replace("\r\n", "\n"),
        "template": form["template"].replace("\r\n", "\n"),
        "mode": form["mode"] or "choice",
    }
    if raw["mode"] != "scale":
        raw["choices"] = _split(form["choices"])
        raw["positive"] = form["positive"].strip()
    if _split(form["labels"]):
        raw["labels"] = _split(form["labels"])
    try:
        raw["threshold"] = float(form["threshold"] or 0.5)
    except ValueError as exc:
        raise JudgeSpecError("threshold must be a number") from exc
    return raw


def _page(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    form: dict[str, str] | None = None,
    trace_ids: str = "",
    previews: list[dict[str, Any]] | None = None,
    error: str | None = None,
    saved: str | None = None,
    versions: list[dict[str, Any]] | None = None,
) -> HTMLResponse:
    with ctx.sessionmaker() as db:
        judges = [judge_as_dict(row) for row in list_judges(db, scope.project.id)]
    return render_page(
        request,
        "judges.html",
        scope,
        "judges",
        status_code=400 if error else 200,
        judges=judges,
        templates=builtin_templates(),
        form=form or _form_from_spec({}),
        trace_ids=trace_ids,
        previews=previews,
        error=error,
        saved=saved,
        versions=versions,
    )


@router.get("/projects/{project_id}/judges", response_class=HTMLResponse)
def judges_page(
    scope: Scope,
    ctx: Context,
    request: Request,
    template: str = "",
    judge: str = "",
    saved: str = "",
) -> HTMLResponse:
    """The project's judges; ``template`` prefills the form from a built-in template,
    ``judge`` from a judge's latest version (and lists its versions)."""
    form, versions = None, None
    if template:
        spec = builtin_templates().get(template)
        if spec is None:
            raise PageError(404, f"There is no built-in template {template!r}.")
        form = _form_from_spec(spec)
    elif judge:
        with ctx.sessionmaker() as db:
            try:
                rows = judge_versions(db, scope.project.id, judge)
            except LookupError as exc:
                raise PageError(404, str(exc)) from exc
            versions = [judge_as_dict(row) for row in rows]
        form = _form_from_spec(versions[-1]["spec"])
    return _page(request, scope, ctx, form, saved=saved or None, versions=versions)


@router.post("/projects/{project_id}/judges", response_class=HTMLResponse)
def submit_judge(
    scope: Scope,
    ctx: Context,
    request: Request,
    action: Annotated[str, Form()] = "preview",
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    system: Annotated[str, Form()] = "",
    template: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = "choice",
    choices: Annotated[str, Form()] = "",
    positive: Annotated[str, Form()] = "",
    labels: Annotated[str, Form()] = "",
    threshold: Annotated[str, Form()] = "0.5",
    trace_ids: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Preview the judge on the given traces, or save it (a new version when reworded)."""
    check_csrf(scope.viewer.csrf_token, csrf_token)
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot create judges; ask a project owner or member.")
    form = {
        "name": name, "description": description, "system": system, "template": template,
        "mode": mode, "choices": choices, "positive": positive, "labels": labels,
        "threshold": threshold,
    }  # fmt: skip
    try:
        raw = spec_from_form(form)
        if action == "save":
            with ctx.sessionmaker.begin() as db:
                row, _ = save_judge(db, scope.project.id, raw, created_by=scope.viewer.email)
                key = f"custom:{row.name}@{row.version}"
            return RedirectResponse(
                f"/projects/{scope.project.id}/judges?saved={key}", status_code=303
            )
        previews = preview_judge(
            ctx.store, scope.project.id, raw, trace_ids.split(), _resources(request, ctx)
        )
    except JudgeSpecError as exc:
        return _page(request, scope, ctx, form, trace_ids, error=str(exc))
    return _page(request, scope, ctx, form, trace_ids, previews=previews)
