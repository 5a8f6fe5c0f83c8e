"""The registry of evaluators by name and version."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from haloscope.evaluators.base import Evaluator, Resources
from haloscope.evaluators.quality import QualityCard, load_card

E = TypeVar("E", bound=type[Evaluator])

_EVALUATORS: dict[str, dict[str, type[Evaluator]]] = {}


class UnknownEvaluatorError(LookupError):
    """No evaluator is registered under the requested name or version."""


@dataclass(frozen=True)
class EvaluatorSpec:
    """Public description of a registered evaluator version: ``quality`` is its measured
    card (None when never measured); ``default`` whether a spec naming no version runs it;
    ``binary_labels`` its (negative, positive) labels when it decides between two classes."""

    name: str
    version: str
    description: str
    requires: tuple[str, ...]
    config_schema: dict[str, Any]
    quality: QualityCard | None = None
    default: bool = False
    binary_labels: tuple[str, str] | None = None

    @property
    def unreliable(self) -> bool:
        """Measured, and below the reliability bar on some dev slice."""
        return self.quality is not None and not self.quality.reliable


def register(cls: E) -> E:
    """Class decorator adding an evaluator to the registry; a name@version registers once."""
    versions = _EVALUATORS.setdefault(cls.name, {})
    if cls.version in versions and versions[cls.version] is not cls:
        raise ValueError(f"evaluator {cls.name}@{cls.version} is already registered")
    versions[cls.version] = cls
    return cls


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def default_version(name: str) -> str:
    """The version a spec naming no version runs: the latest one not measured unreliable
    (the latest of all when every version is)."""
    versions = sorted(_versions(name), key=_version_key, reverse=True)
    for version in versions:
        card = load_card(name, version)
        if card is None or card.reliable:
            return version
    return versions[0]


def _versions(name: str) -> dict[str, type[Evaluator]]:
    versions = _EVALUATORS.get(name)
    if not versions:
        known = ", ".join(sorted(_EVALUATORS)) or "(none)"
        raise UnknownEvaluatorError(f"unknown evaluator {name!r}; registered: {known}")
    return versions


def evaluator_class(name: str, version: str | None = None) -> type[Evaluator]:
    """The class registered as ``name`` at ``version`` (default: :func:`default_version`)."""
    versions = _versions(name)
    if version is None:
        version = default_version(name)
    if version not in versions:
        raise UnknownEvaluatorError(
            f"evaluator {name!r} has no version {version!r}; available: "
            f"{', '.join(sorted(versions, key=_version_key))}"
        )
    return versions[version]


def create_evaluator(
    name: str,
    version: str | None = None,
    config: Mapping[str, Any] | None = None,
    resources: Resources | None = None,
) -> Evaluator:
    """Instantiate a registered evaluator with a validated ``config``."""
    return evaluator_class(name, version)(config, resources)


def list_evaluators() -> list[EvaluatorSpec]:
    """Every registered evaluator version with its quality card, by name then version."""
    specs = []
    for name in sorted(_EVALUATORS):
        default = default_version(name)
        for version, cls in sorted(_EVALUATORS[name].items(), key=lambda kv: _version_key(kv[0])):
            specs.append(
                EvaluatorSpec(
                    cls.name,
                    cls.version,
                    cls.description,
                    cls.requires,
                    cls.config_schema(),
                    load_card(name, version),
                    version == default,
                    cls.binary_labels,
                )
            )
    return specs
