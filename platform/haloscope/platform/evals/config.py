"""The eval config file (YAML, TOML or JSON): metrics, their evaluators or custom scorers,
absolute thresholds, regression tolerances and the statistics settings of the gate.

```yaml
alpha: 0.05              # significance level of the paired tests
metrics:
  - name: faithfulness
    evaluator: faithfulness            # any registered evaluator (docs/evaluators.md)
    config: {support_threshold: 0.5}
    aggregate: mean                    # or pass_rate
    min: 0.6                           # absolute threshold on the aggregate
    tolerance: 0.05                    # a drop up to this much is never a regression
  - name: cites_source
    scorer: my_checks:cites_source     # custom Python scorer: (item, output, contexts) -> float|bool
    aggregate: pass_rate
  - name: correctness
    evaluator: custom:correctness      # a custom judge: from this file (offline) ...
    judge: judges/correctness.yaml     # ... or, without 'judge', the project's stored version
```
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from haloscope.evaluators import (
    ConfigError,
    Evaluator,
    Resources,
    UnknownEvaluatorError,
    create_evaluator,
)
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.importing import import_callable
from haloscope.platform.evals.jsonutil import content_hash

AGGREGATES = ("mean", "pass_rate")
PAIRED_TESTS = ("wilcoxon", "bootstrap")
_TOP_KEYS = {"metrics", "alpha", "bootstrap_samples", "seed", "concurrency"}
_METRIC_KEYS = {
    "name", "evaluator", "version", "config", "scorer", "aggregate", "pass_threshold",
    "higher_is_better", "min", "max", "tolerance", "test", "judge",
}  # fmt: skip
CUSTOM_PREFIX = "custom:"
# Resolves a project's stored custom judge: (judge name, version or None) -> (spec, version).
JudgeResolver = Callable[[str, str | None], tuple[Mapping[str, Any], int | str]]


@dataclass(frozen=True)
class MetricSpec:
    """One gated metric: where its per-item scores come from and how they are judged.

    Exactly one of ``evaluator`` (a registry name) and ``scorer`` (``module:function``) is
    set. An item *passes* when its score is at least ``pass_threshold`` (at most, when lower
    is better); ``aggregate`` is the mean score or the share of passing items (a pass rate
    is always better higher). ``min``/``max`` bound the aggregate.
    """

    name: str
    evaluator: str | None = None
    version: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    scorer: str | None = None
    aggregate: str = "mean"
    pass_threshold: float = 0.5
    higher_is_better: bool = True
    min: float | None = None
    max: float | None = None
    tolerance: float = 0.0
    test: str = "wilcoxon"
    judge: str | None = None


@dataclass(frozen=True)
class EvalConfig:
    """A parsed, validated eval config; ``digest`` identifies its content."""

    metrics: tuple[MetricSpec, ...]
    alpha: float = 0.05
    bootstrap_samples: int = 2000
    seed: int = 0
    concurrency: int = 4
    digest: str = ""

    def metric(self, name: str) -> MetricSpec | None:
        """The metric called ``name``, if configured."""
        return next((m for m in self.metrics if m.name == name), None)


def read_structured(path: Path, what: str = "eval config") -> Any:
    """The YAML, TOML or JSON file at ``path`` (by its suffix) parsed; EvalUsageError naming
    ``what`` when it is missing or malformed."""
    if not path.is_file():
        hint = "; pass --config PATH" if what == "eval config" else ""
        raise EvalUsageError(f"{what} {path} does not exist{hint}")
    text = path.read_text(encoding="utf-8")
    suffix = path.suffix.lower()
    try:
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix == ".json":
            return json.loads(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise EvalUsageError(f"{what} {path} is not valid {suffix[1:].upper()}: {exc}") from exc
    raise EvalUsageError(f"{what} {path}: use a .yaml, .yml, .toml or .json file")


def _number(where: str, value: Any, low: float, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalUsageError(f"{where} must be a number, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise EvalUsageError(f"{where} must be {bound}, got {value}")
    return float(value)


def _metric(raw: Any, index: int) -> MetricSpec:
    where = f"metrics[{index}]"
    if not isinstance(raw, Mapping):
        raise EvalUsageError(f"{where} must be a mapping with 'evaluator' or 'scorer'")
    unknown = sorted(set(raw) - _METRIC_KEYS)
    if unknown:
        raise EvalUsageError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_METRIC_KEYS)}")
    if ("evaluator" in raw) == ("scorer" in raw):
        raise EvalUsageError(
            f"{where}: set exactly one of 'evaluator' (a registered evaluator name) and "
            "'scorer' (a custom 'module:function')"
        )
    name = str(raw.get("name") or raw.get("evaluator") or raw["scorer"].rpartition(":")[2])
    where = f"metric {name!r}"
    aggregate = raw.get("aggregate", "mean")
    if aggregate not in AGGREGATES:
        raise EvalUsageError(f"{where}: aggregate must be one of {AGGREGATES}, got {aggregate!r}")
    test = raw.get("test", "wilcoxon")
    if test not in PAIRED_TESTS:
        raise EvalUsageError(f"{where}: test must be one of {PAIRED_TESTS}, got {test!r}")
    config = raw.get("config") or {}
    if not isinstance(config, Mapping):
        raise EvalUsageError(f"{where}: 'config' must be a mapping of evaluator settings")
    higher = raw.get("higher_is_better", True)
    if not isinstance(higher, bool):
        raise EvalUsageError(f"{where}: higher_is_better must be true or false")
    bounds = {
        k: _number(f"{where}: {k}", raw[k], float("-inf")) for k in ("min", "max") if k in raw
    }
    judge = raw.get("judge")
    if judge is not None and (
        not isinstance(judge, str) or not str(raw.get("evaluator", "")).startswith(CUSTOM_PREFIX)
    ):
        raise EvalUsageError(
            f"{where}: 'judge' (a judge file path) goes with 'evaluator: custom:<name>'"
        )
    return MetricSpec(
        name=name,
        evaluator=raw.get("evaluator"),
        version=str(raw["version"]) if "version" in raw else None,
        config=dict(config),
        scorer=raw.get("scorer"),
        aggregate=aggregate,
        pass_threshold=_number(
            f"{where}: pass_threshold", raw.get("pass_threshold", 0.5), 0.0, 1.0
        ),
        higher_is_better=higher,
        tolerance=_number(f"{where}: tolerance", raw.get("tolerance", 0.0), 0.0),
        test=test,
        judge=judge,
        **bounds,
    )


def parse_config(raw: Any, source: str = "eval config") -> EvalConfig:
    """Validate a config already parsed into Python values."""
    if not isinstance(raw, Mapping) or not raw.get("metrics"):
        raise EvalUsageError(f"{source}: needs a non-empty 'metrics' list (see docs/ci-gate.md)")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise EvalUsageError(f"{source}: unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    if not isinstance(raw["metrics"], list):
        raise EvalUsageError(f"{source}: 'metrics' must be a list")
    metrics = tuple(_metric(m, i) for i, m in enumerate(raw["metrics"]))
    names = [m.name for m in metrics]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise EvalUsageError(f"{source}: duplicate metric name(s) {duplicates}; set 'name'")
    return EvalConfig(
        metrics=metrics,
        alpha=_number(f"{source}: alpha", raw.get("alpha", 0.05), 1e-6, 0.5),
        bootstrap_samples=int(
            _number(f"{source}: bootstrap_samples", raw.get("bootstrap_samples", 2000), 100)
        ),
        seed=int(_number(f"{source}: seed", raw.get("seed", 0), 0)),
        concurrency=int(_number(f"{source}: concurrency", raw.get("concurrency", 4), 1, 256)),
        digest=content_hash(raw),
    )


def load_config(path: Path) -> EvalConfig:
    """Read and validate the eval config at ``path`` (judge files relative to its folder)."""
    config = parse_config(read_structured(path), f"eval config {path}")
    metrics = tuple(
        replace(m, judge=str(path.parent / m.judge)) if m.judge is not None else m
        for m in config.metrics
    )
    return replace(config, metrics=metrics)


Scorer = Callable[..., Any]


def build_scorers(
    config: EvalConfig, resources: Resources | None = None, judges: JudgeResolver | None = None
) -> dict[str, Evaluator | Scorer]:
    """Each metric's evaluator instance (sharing ``resources``' models when given) or custom
    scorer; bad names or settings are usage errors raised before any target runs. A custom
    judge (``evaluator: custom:<name>``) comes from its ``judge`` file, else from ``judges``
    (the project's stored versions)."""
    built: dict[str, Evaluator | Scorer] = {}
    for metric in config.metrics:
        if metric.scorer is not None:
            built[metric.name] = import_callable(metric.scorer, f"metric {metric.name!r}: scorer")
            continue
        if metric.evaluator is not None and metric.evaluator.startswith(CUSTOM_PREFIX):
            built[metric.name] = _custom_judge(metric, resources, judges)
            continue
        try:
            built[metric.name] = create_evaluator(
                metric.evaluator, metric.version, metric.config, resources
            )
        except (ConfigError, UnknownEvaluatorError) as exc:
            raise EvalUsageError(f"metric {metric.name!r}: {exc}") from exc
    return built


def _custom_judge(
    metric: MetricSpec, resources: Resources | None, judges: JudgeResolver | None
) -> Evaluator:
    from haloscope.evaluators.custom_judge import CustomJudge, JudgeSpecError, read_judge_file

    name = (metric.evaluator or "")[len(CUSTOM_PREFIX) :]
    where = f"metric {metric.name!r}"
    try:
        if metric.judge is not None:
            spec: Mapping[str, Any] = read_judge_file(metric.judge)
            if spec.get("name") != name:
                raise EvalUsageError(
                    f"{where}: {metric.judge} defines judge {spec.get('name')!r}, not {name!r}"
                )
            version: int | str = metric.version or 0
        elif judges is not None:
            spec, version = judges(name, metric.version)
        else:
            raise EvalUsageError(
                f"{where}: custom judge {name!r}: give its file ('judge: FILE') or run with "
                "HALOSCOPE_HOST and keys set so the project's stored judge is used"
            )
        return CustomJudge(spec, version, None, resources)
    except (JudgeSpecError, OSError) as exc:
        raise EvalUsageError(f"{where}: {exc}") from exc
