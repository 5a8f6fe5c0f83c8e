"""Score configs: per project and score name, the type and range a score must have. A score
whose name has a config is refused (per item) when it breaks it; other names take any value."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from haloscope.platform.db.models import ScoreConfig
from haloscope.platform.db.project_rows import find_named, list_named
from haloscope.platform.scores.submission import MAX_NAME_CHARS, VALUE_TYPES, ScoreSubmission
from sqlalchemy import select
from sqlalchemy.orm import Session

EDITABLE = ("name", "value_type", "min_value", "max_value", "categories", "description")
MAX_CATEGORIES = 100


class ScoreConfigError(ValueError):
    """An invalid score config; the message says why."""


def _check(values: Mapping[str, Any]) -> None:
    name, value_type = values["name"], values["value_type"]
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS:
        raise ScoreConfigError(f"name must be 1-{MAX_NAME_CHARS} characters")
    if value_type not in VALUE_TYPES:
        raise ScoreConfigError(f"value_type {value_type!r} is not one of {list(VALUE_TYPES)}")
    low, high, categories = values["min_value"], values["max_value"], values["categories"]
    if value_type != "numeric" and (low is not None or high is not None):
        raise ScoreConfigError("min_value and max_value apply to numeric scores only")
    if low is not None and high is not None and low > high:
        raise ScoreConfigError("min_value must not exceed max_value")
    if value_type == "categorical":
        if not 1 <= len(categories) <= MAX_CATEGORIES or len(set(categories)) != len(categories):
            raise ScoreConfigError(f"categorical needs 1-{MAX_CATEGORIES} distinct categories")
        if not all(isinstance(c, str) and 1 <= len(c) <= MAX_NAME_CHARS for c in categories):
            raise ScoreConfigError(f"each category must be 1-{MAX_NAME_CHARS} characters")
    elif categories:
        raise ScoreConfigError("categories apply to categorical scores only")


def create_score_config(
    session: Session, project_id: str, fields: Mapping[str, Any]
) -> ScoreConfig:
    """Validate and add a config (fields of :data:`EDITABLE`; the caller commits)."""
    values = {"min_value": None, "max_value": None, "categories": [], "description": ""}
    values.update(fields)
    _check(values)
    if find_score_config(session, project_id, values["name"]) is not None:
        raise ScoreConfigError(f"score config {values['name']!r} already exists")
    config = ScoreConfig(project_id=project_id, **values)
    session.add(config)
    session.flush()
    return config


def update_score_config(
    session: Session, config: ScoreConfig, changes: Mapping[str, Any]
) -> ScoreConfig:
    """Apply ``changes`` (fields of :data:`EDITABLE`) after validating the result."""
    values = {key: getattr(config, key) for key in EDITABLE}
    values.update(changes)
    _check(values)
    taken = find_score_config(session, config.project_id, values["name"])
    if taken is not None and taken is not config:
        raise ScoreConfigError(f"score config {values['name']!r} already exists")
    for key in EDITABLE:
        setattr(config, key, values[key])
    session.flush()
    return config


def list_score_configs(session: Session, project_id: str) -> list[ScoreConfig]:
    """The project's score configs by name."""
    return list_named(session, ScoreConfig, project_id)


def find_score_config(session: Session, project_id: str, id_or_name: str) -> ScoreConfig | None:
    """The project's score config with this id or name, or None."""
    return find_named(session, ScoreConfig, project_id, id_or_name)


def configs_by_name(
    session: Session, project_id: str, names: Sequence[str]
) -> dict[str, ScoreConfig]:
    """The project's configs of the score ``names``, by name."""
    query = select(ScoreConfig).where(
        ScoreConfig.project_id == project_id, ScoreConfig.name.in_(sorted(set(names)))
    )
    return {config.name: config for config in session.scalars(query)}


def score_config_as_dict(config: ScoreConfig) -> dict[str, Any]:
    """A JSON-ready view of a score config."""
    return {
        "id": config.id,
        "name": config.name,
        "value_type": config.value_type,
        "min_value": config.min_value,
        "max_value": config.max_value,
        "categories": list(config.categories),
        "description": config.description,
        "created_at": config.created_at.isoformat(),
    }


def config_violation(config: ScoreConfig, score: ScoreSubmission) -> str | None:
    """Why ``score`` breaks its name's ``config``, or None when it keeps to it."""
    if score.value_type != config.value_type:
        return (
            f"score config {config.name!r} takes {config.value_type} values, not "
            f"{score.value_type} ({score.typed_value!r})"
        )
    if config.min_value is not None and score.value < config.min_value:
        return f"value {score.value} is below {config.name!r}'s min_value {config.min_value}"
    if config.max_value is not None and score.value > config.max_value:
        return f"value {score.value} is above {config.name!r}'s max_value {config.max_value}"
    if config.value_type == "categorical" and score.string_value not in config.categories:
        return f"{score.string_value!r} is not one of {config.name!r}'s categories"
    return None
