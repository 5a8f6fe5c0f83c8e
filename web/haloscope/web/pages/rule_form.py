"""The sampling-rule form: every field kept as typed (so a refused form comes back unchanged)
and turned into the fields of :class:`haloscope.platform.jobs.rules.RuleSpec`.

Only the form's text is parsed here (numbers, lists, JSON); what the values mean is checked by
the jobs module's own rule validation, the same the API uses.
"""

from __future__ import annotations

import json
from typing import Any

from haloscope.platform.db.models import SamplingRule
from haloscope.platform.jobs.rules import RuleError, RuleSpec
from pydantic import BaseModel, ConfigDict

_LIST_FILTERS = ("names", "models", "tags")
_WHOLE_NUMBERS = ("per_day", "max_items_per_run", "window_hours", "seed", "batch_size")


class RuleForm(BaseModel):
    """The rule form's fields as submitted: text, a checkbox and the chosen span kinds."""

    model_config = ConfigDict(extra="ignore")

    name: str = ""
    enabled: bool = False
    sample_rate: str = ""
    per_day: str = ""
    kinds: list[str] = []
    names: str = ""
    models: str = ""
    tags: str = ""
    release: str = ""
    metadata: str = ""
    evaluators: str = ""
    max_items_per_run: str = ""
    window_hours: str = ""
    seed: str = ""
    batch_size: str = ""

    @classmethod
    def of(cls, rule: RuleSpec | SamplingRule) -> RuleForm:
        """The form filled in from a stored rule or a spec (a new rule's defaults)."""
        filters = rule.filters
        return cls(
            name=rule.name,
            enabled=rule.enabled,
            sample_rate="" if rule.sample_rate is None else f"{rule.sample_rate:g}",
            per_day="" if rule.per_day is None else str(rule.per_day),
            kinds=list(filters.get("kinds") or []),
            **{key: ", ".join(filters.get(key) or []) for key in _LIST_FILTERS},
            release=filters.get("release") or "",
            metadata="\n".join(f"{k}={v}" for k, v in (filters.get("metadata") or {}).items()),
            evaluators=json.dumps(list(rule.evaluators), indent=2),
            **{key: str(getattr(rule, key)) for key in _WHOLE_NUMBERS if key != "per_day"},
        )

    def rule_fields(self) -> dict[str, Any]:
        """The fields of a RuleSpec; text that does not parse raises RuleError naming it."""
        fields: dict[str, Any] = {
            "name": self.name.strip(),
            "enabled": self.enabled,
            "sample_rate": _optional_number("sample_rate", self.sample_rate, float),
            "filters": {
                "kinds": self.kinds,
                **{key: _comma_list(getattr(self, key)) for key in _LIST_FILTERS},
                "release": self.release.strip(),
                "metadata": _key_values(self.metadata),
            },
            "evaluators": _evaluators(self.evaluators),
        }
        for key in _WHOLE_NUMBERS:
            value = _optional_number(key, getattr(self, key), int)
            if value is None and key != "per_day":
                raise RuleError(f"{key} is required")
            fields[key] = value
        return fields


def _optional_number(key: str, text: str, kind: type[int] | type[float]) -> float | None:
    """``text`` as a number of ``kind``, None when blank; RuleError naming ``key`` otherwise."""
    if not text.strip():
        return None
    try:
        return kind(text)
    except ValueError:
        noun = "whole number" if kind is int else "number"
        raise RuleError(f"{key} must be a {noun}, not {text.strip()!r}") from None


def _comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _key_values(text: str) -> dict[str, str]:
    pairs = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise RuleError(f"metadata: {line.strip()!r} is not a key=value line")
        pairs[key.strip()] = value.strip()
    return pairs


def _evaluators(text: str) -> tuple[Any, ...]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuleError(f"evaluators: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(parsed, list):
        raise RuleError("evaluators must be a JSON list of {name, version, config}")
    return tuple(parsed)
