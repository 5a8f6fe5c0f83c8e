"""Sampling rules: validation of their fields and create/list/get/update/delete in the metadata
DB."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from haloscope.evaluators import (
    ConfigError,
    EvaluatorSpec,
    UnknownEvaluatorError,
    create_evaluator,
    list_evaluators,
)
from haloscope.platform.db.models import SamplingRule
from haloscope.platform.db.project_rows import find_named, list_named
from haloscope.platform.judges import JudgeNotFound, JudgeSpecError, resolve_evaluator
from haloscope.platform.store.base import SPAN_KINDS
from sqlalchemy.orm import Session

FILTER_KEYS = ("kinds", "names", "models", "tags", "release", "metadata")
# The default detector alone (one score, one label per span); its version is resolved when a
# run starts, so rules follow it to newer reliable versions.
DEFAULT_EVALUATORS: tuple[dict[str, Any], ...] = (
    {"name": "hallucination.rag", "version": None, "config": {}},
)


class RuleError(ValueError):
    """A sampling rule field is invalid; the message names the field."""


@dataclass(frozen=True)
class RuleSpec:
    """What a sampling rule says, before it is stored. Exactly one of ``sample_rate`` and
    ``per_day`` is set; ``evaluators`` are ``{name, version, config}`` dicts."""

    name: str
    filters: Mapping[str, Any] = field(default_factory=dict)
    sample_rate: float | None = None
    per_day: int | None = None
    evaluators: tuple[Mapping[str, Any], ...] = DEFAULT_EVALUATORS
    max_items_per_run: int = 1000
    window_hours: int = 24
    seed: int = 0
    batch_size: int = 16
    enabled: bool = True


def _string_list(filters: Mapping[str, Any], key: str) -> list[str]:
    values = filters.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise RuleError(f"filters.{key} must be a list of non-empty strings")
    return values


def normalize_filters(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Checked filters with every key present (empty lists/strings mean "any")."""
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise RuleError(f"unknown filter(s) {unknown}; known filters: {list(FILTER_KEYS)}")
    kinds = _string_list(filters, "kinds")
    bad_kinds = sorted(set(kinds) - SPAN_KINDS)
    if bad_kinds:
        raise RuleError(f"filters.kinds: unknown kind(s) {bad_kinds}; use {sorted(SPAN_KINDS)}")
    release = filters.get("release") or ""
    if not isinstance(release, str):
        raise RuleError("filters.release must be a string")
    metadata = filters.get("metadata") or {}
    if not isinstance(metadata, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in metadata.items()
    ):
        raise RuleError("filters.metadata must map non-empty string keys to string values")
    return {
        "kinds": kinds,
        "names": _string_list(filters, "names"),
        "models": _string_list(filters, "models"),
        "tags": _string_list(filters, "tags"),
        "release": release,
        "metadata": dict(metadata),
    }


def rule_evaluators() -> list[EvaluatorSpec]:
    """The evaluators a rule can name: every registered version with its description, whether
    it is the default, and its quality card (what the dashboard offers and shows)."""
    return list_evaluators()


def normalize_evaluators(
    evaluators: Any, session: Session | None = None, project_id: str | None = None
) -> list[dict[str, Any]]:
    """Checked evaluator specs: each name, version and config is validated by the registry;
    ``custom:<name>`` names one of the project's custom judges (version: the judge version,
    none for its latest at each run)."""
    if not isinstance(evaluators, list | tuple) or not evaluators:
        raise RuleError("evaluators must be a non-empty list of {name, version, config}")
    checked = []
    for position, spec in enumerate(evaluators):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str):
            raise RuleError(f"evaluators[{position}] must be an object with a 'name'")
        extra = sorted(set(spec) - {"name", "version", "config"})
        if extra:
            raise RuleError(f"evaluators[{position}]: unknown key(s) {extra}")
        version, config = spec.get("version"), spec.get("config") or {}
        if version is not None and not isinstance(version, str):
            version = str(version)
        try:
            if session is not None and project_id is not None:
                resolve_evaluator(session, project_id, spec["name"], version, config)
            else:
                create_evaluator(spec["name"], version=version, config=config)
        except (UnknownEvaluatorError, ConfigError, JudgeNotFound, JudgeSpecError) as exc:
            raise RuleError(f"evaluators[{position}]: {exc}") from exc
        checked.append({"name": spec["name"], "version": version, "config": dict(config)})
    return checked


def _check_spec(spec: RuleSpec) -> None:
    if not spec.name or len(spec.name) > 200:
        raise RuleError("name must be 1-200 characters")
    if (spec.sample_rate is None) == (spec.per_day is None):
        raise RuleError("set exactly one of sample_rate and per_day")
    if spec.sample_rate is not None and not 0 < spec.sample_rate <= 1:
        raise RuleError("sample_rate must be in (0, 1]")
    if spec.per_day is not None and spec.per_day < 1:
        raise RuleError("per_day must be at least 1")
    for key, low in (("max_items_per_run", 1), ("window_hours", 1), ("batch_size", 1)):
        if getattr(spec, key) < low:
            raise RuleError(f"{key} must be at least {low}")
    if not 0 <= spec.seed < 2**63:
        raise RuleError("seed must be in [0, 2^63)")


def create_rule(session: Session, project_id: str, spec: RuleSpec) -> SamplingRule:
    """Validate ``spec`` and add it as a rule of the project (the caller commits). A name
    already used in the project raises RuleError."""
    _check_spec(spec)
    if find_rule(session, project_id, spec.name) is not None:
        raise RuleError(f"sampling rule {spec.name!r} already exists in this project")
    rule = SamplingRule(
        project_id=project_id,
        name=spec.name,
        enabled=spec.enabled,
        filters=normalize_filters(spec.filters),
        sample_rate=spec.sample_rate,
        per_day=spec.per_day,
        evaluators=normalize_evaluators(list(spec.evaluators), session, project_id),
        max_items_per_run=spec.max_items_per_run,
        window_hours=spec.window_hours,
        seed=spec.seed,
        batch_size=spec.batch_size,
    )
    session.add(rule)
    session.flush()
    return rule


def update_rule(session: Session, rule: SamplingRule, changes: Mapping[str, Any]) -> SamplingRule:
    """Apply ``changes`` (fields of :class:`RuleSpec`) to ``rule`` after validating the result
    as a whole; switching between ``sample_rate`` and ``per_day`` sets the other to None."""
    unknown = sorted(set(changes) - set(RuleSpec.__dataclass_fields__))
    if unknown:
        raise RuleError(f"unknown field(s) {unknown}")
    current = {key: getattr(rule, key) for key in RuleSpec.__dataclass_fields__}
    spec = RuleSpec(**{**current, **changes})
    _check_spec(spec)
    if spec.name != rule.name and find_rule(session, rule.project_id, spec.name) is not None:
        raise RuleError(f"sampling rule {spec.name!r} already exists in this project")
    rule.name, rule.enabled = spec.name, spec.enabled
    rule.filters = normalize_filters(spec.filters)
    rule.evaluators = normalize_evaluators(list(spec.evaluators), session, rule.project_id)
    rule.sample_rate, rule.per_day = spec.sample_rate, spec.per_day
    rule.max_items_per_run, rule.window_hours = spec.max_items_per_run, spec.window_hours
    rule.seed, rule.batch_size = spec.seed, spec.batch_size
    session.flush()
    return rule


def list_rules(session: Session, project_id: str) -> list[SamplingRule]:
    """The project's rules by name."""
    return list_named(session, SamplingRule, project_id)


def find_rule(session: Session, project_id: str, id_or_name: str) -> SamplingRule | None:
    """The project's rule with this id or name, or None."""
    return find_named(session, SamplingRule, project_id, id_or_name)


def delete_rule(session: Session, project_id: str, id_or_name: str) -> bool:
    """Delete the rule (and its runs); False when the project has no such rule."""
    rule = find_rule(session, project_id, id_or_name)
    if rule is None:
        return False
    session.delete(rule)
    return True


def rule_as_dict(rule: SamplingRule) -> dict[str, Any]:
    """A JSON-ready view of a rule."""
    return {
        "id": rule.id,
        "name": rule.name,
        "enabled": rule.enabled,
        "filters": rule.filters,
        "sample_rate": rule.sample_rate,
        "per_day": rule.per_day,
        "evaluators": rule.evaluators,
        "max_items_per_run": rule.max_items_per_run,
        "window_hours": rule.window_hours,
        "seed": rule.seed,
        "batch_size": rule.batch_size,
        "created_at": rule.created_at.isoformat(),
    }
