"""Score configs: create, list, read, change and delete what the project's scores of one name
may hold (by id or name; another project's config answers 404)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from haloscope.platform.api import rule_crud
from haloscope.platform.api.job_dependencies import Project, Sessions, StrictBody
from haloscope.platform.scores import configs
from pydantic import Field

router = APIRouter(prefix="/api/v1")


class ScoreConfigBody(StrictBody):
    """A new score config."""

    name: str = Field(min_length=1, max_length=200)
    value_type: str
    min_value: float | None = None
    max_value: float | None = None
    categories: list[str] = Field(default_factory=list)
    description: str = Field("", max_length=1000)


class ScoreConfigChanges(StrictBody):
    """Fields of a score config to change; those left out keep their value."""

    name: str | None = Field(None, min_length=1, max_length=200)
    value_type: str | None = None
    min_value: float | None = None
    max_value: float | None = None
    categories: list[str] | None = None
    description: str | None = Field(None, max_length=1000)


SCORE_CONFIGS = rule_crud.RuleKind(
    label="score config",
    error=configs.ScoreConfigError,
    find=configs.find_score_config,
    list_all=configs.list_score_configs,
    create=configs.create_score_config,
    update=configs.update_score_config,
    as_dict=configs.score_config_as_dict,
    nullable=("min_value", "max_value"),
)


@router.post("/score-configs", status_code=201)
def create_score_config(
    body: ScoreConfigBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Create a score config (409 when the name is taken, 400 with the reason if invalid)."""
    return rule_crud.create(SCORE_CONFIGS, sessions, project_id, body)


@router.get("/score-configs")
def list_score_configs(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's score configs by name."""
    return rule_crud.list_all(SCORE_CONFIGS, sessions, project_id)


@router.get("/score-configs/{config}")
def get_score_config(config: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One score config, by id or name."""
    return rule_crud.get(SCORE_CONFIGS, sessions, project_id, config)


@router.patch("/score-configs/{config}")
def update_score_config(
    config: str, body: ScoreConfigChanges, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Change fields of a score config (scores already stored are kept as they are)."""
    return rule_crud.update(SCORE_CONFIGS, sessions, project_id, config, body)


@router.delete("/score-configs/{config}", status_code=204)
def delete_score_config(config: str, project_id: Project, sessions: Sessions) -> Response:
    """Delete a score config; its name's scores then take any value."""
    return rule_crud.delete(SCORE_CONFIGS, sessions, project_id, config)
