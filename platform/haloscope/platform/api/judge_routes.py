"""Custom LLM judges of a project: create (a new immutable version when the wording changes),
list, read one and its versions, and the built-in templates to start from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from haloscope.evaluators.custom_judge import builtin_templates
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.job_dependencies import Project, Sessions, StrictBody
from haloscope.platform.auth.credentials import parse_key_pair
from haloscope.platform.judges import (
    JudgeNotFound,
    JudgeSpecError,
    get_judge,
    judge_as_dict,
    judge_versions,
    list_judges,
    save_judge,
)
from pydantic import Field

router = APIRouter(prefix="/api/v1")


class JudgeBody(StrictBody):
    """A judge spec (docs/evaluators.md, "Custom judges")."""

    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    system: str
    template: str
    mode: str = "choice"
    choices: list[str] | None = None
    positive: str | None = None
    labels: list[str] | None = None
    threshold: float = 0.5
    note: str | None = None


@router.post("/judges", status_code=201)
def create_judge(
    body: JudgeBody, request: Request, response: Response, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Save a judge: 201 with a new version when the spec is new or reworded, 200 with the
    existing version when it is identical to the latest; 400 with the reason when it cannot
    run (unknown template field, choices sharing a first token, threshold outside (0, 1)...)."""
    public_key, _ = parse_key_pair(request.headers["authorization"])
    raw = body.model_dump(exclude_unset=True, exclude={"note"})
    with sessions() as session:
        try:
            row, created = save_judge(session, project_id, raw, created_by=public_key)
        except JudgeSpecError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        view = judge_as_dict(row)
    view["created"] = created
    if not created:
        response.status_code = 200
    return view


@router.get("/judges")
def list_project_judges(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The latest version of each of the project's judges, and the built-in templates."""
    with sessions() as session:
        judges = [judge_as_dict(row) for row in list_judges(session, project_id)]
    return {"judges": judges, "templates": list(builtin_templates().values())}


@router.get("/judges/{judge}")
def get_project_judge(judge: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """A judge's latest version, with every version number."""
    with sessions() as session:
        try:
            rows = judge_versions(session, project_id, judge)
        except JudgeNotFound as exc:
            raise ApiError(404, str(exc)) from exc
        return {**judge_as_dict(rows[-1]), "versions": [r.version for r in rows]}


@router.get("/judges/{judge}/versions/{version}")
def get_judge_version(
    judge: str, version: int, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """One version of a judge."""
    with sessions() as session:
        try:
            return judge_as_dict(get_judge(session, project_id, judge, version))
        except JudgeNotFound as exc:
            raise ApiError(404, str(exc)) from exc
