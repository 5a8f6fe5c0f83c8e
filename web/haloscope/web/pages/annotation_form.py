"""The review page's label controls: one field per score config of the queue, shown as choices
(booleans, categories, small integer scales) numbered for the keyboard, or as a number input;
and the submitted form read back into score values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from haloscope.platform.annotation.errors import AnnotationError
from haloscope.platform.db.models import ScoreConfig

# A numeric config whose whole-number range has at most this many values is shown as choices.
MAX_SCALE_CHOICES = 10
KEYS = "123456789"


@dataclass(frozen=True)
class Choice:
    """One option of a field: the submitted ``value``, its ``label`` and its shortcut key."""

    value: str
    label: str
    key: str | None


@dataclass(frozen=True)
class LabelField:
    """The control of score ``name``: ``kind`` is ``choice``, ``number`` or ``text``."""

    index: int
    name: str
    value_type: str
    kind: str
    choices: tuple[Choice, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    @property
    def input_name(self) -> str:
        """The form field's name (score names may hold any character)."""
        return f"value_{self.index}"


def _options(config: ScoreConfig | None) -> list[tuple[str, str]]:
    """(value, label) of each choice of a config shown as choices; [] for an input."""
    if config is None:
        return []
    if config.value_type == "boolean":
        return [("true", "Yes"), ("false", "No")]
    if config.value_type == "categorical":
        return [(category, category) for category in config.categories]
    low, high = config.min_value, config.max_value
    if (
        low is not None
        and high is not None
        and float(low).is_integer()
        and float(high).is_integer()
        and high - low < MAX_SCALE_CHOICES
    ):
        return [(str(v), str(v)) for v in range(int(low), int(high) + 1)]
    return []


def label_fields(
    score_names: Sequence[str], configs: Mapping[str, ScoreConfig]
) -> list[LabelField]:
    """The fields of a queue's score configs; choices get the keys 1-9 in page order."""
    fields = []
    keys = iter(KEYS)
    for index, name in enumerate(score_names):
        config = configs.get(name)
        options = _options(config)
        value_type = config.value_type if config is not None else "categorical"
        if options:
            choices = tuple(Choice(v, label, next(keys, None)) for v, label in options)
            kind = "choice"
        else:
            choices, kind = (), "number" if value_type == "numeric" else "text"
        fields.append(
            LabelField(
                index=index,
                name=name,
                value_type=value_type,
                kind=kind,
                choices=choices,
                minimum=config.min_value if config is not None else None,
                maximum=config.max_value if config is not None else None,
                description=config.description if config is not None else "",
            )
        )
    return fields


def submitted_values(fields: Sequence[LabelField], form: Mapping[str, Any]) -> dict[str, Any]:
    """The score values of a submitted label form, typed by their configs; a field left blank
    is left out (the label is then refused for the missing value)."""
    values: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.input_name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        raw = raw.strip()
        if field.value_type == "boolean":
            if raw not in ("true", "false"):
                raise AnnotationError(f"{field.name}: choose Yes or No")
            values[field.name] = raw == "true"
        elif field.value_type == "numeric":
            try:
                values[field.name] = float(raw)
            except ValueError:
                raise AnnotationError(f"{field.name}: {raw!r} is not a number") from None
        else:
            values[field.name] = raw
    return values
