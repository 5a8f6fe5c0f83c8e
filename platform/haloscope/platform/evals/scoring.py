"""Per-item metric values, per-item changes between two runs, and run summaries.

An item's value for a metric is its score (``aggregate: mean``) or 1/0 for pass/fail
(``pass_rate``). An item the target or the evaluator failed on counts as the worst value
(score 0, or 1 when lower is better; a failed pass), so errors never improve a run.

:func:`item_change` is the one rule for "this item improved / regressed / is unchanged"
between a baseline and a candidate: the gate counts its paired items with it and the
dashboard's compare page badges each item with it, so the two always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haloscope.platform.evals.config import EvalConfig, MetricSpec
from haloscope.platform.evals.runs import ItemRecord
from haloscope.platform.evals.stats import bootstrap_ci

IMPROVED, REGRESSED, UNCHANGED = "improved", "regressed", "unchanged"


def item_passed(metric: MetricSpec, score: float | None) -> bool:
    """Whether a score passes the metric's per-item threshold (None never passes)."""
    if score is None:
        return False
    if metric.higher_is_better:
        return score >= metric.pass_threshold
    return score <= metric.pass_threshold


def score_value(metric: MetricSpec, score: float | None) -> float:
    """The number an item with this raw score (None: failed) contributes to the aggregate."""
    if metric.aggregate == "pass_rate":
        return 1.0 if item_passed(metric, score) else 0.0
    if score is None:
        return 0.0 if metric.higher_is_better else 1.0
    return float(score)


def item_value(metric: MetricSpec, item: ItemRecord) -> float:
    """The number this item contributes to the metric's aggregate."""
    return score_value(metric, item.scores.get(metric.name))


def higher_better(metric: MetricSpec) -> bool:
    """Whether a higher aggregate is better: a pass rate always, a mean score by the metric's
    direction."""
    return metric.higher_is_better or metric.aggregate == "pass_rate"


def oriented_change(
    metric: MetricSpec, baseline_score: float | None, current_score: float | None
) -> float:
    """The item's value in the candidate minus in the baseline, signed so that positive is
    better (for a pass rate: +1 fail -> pass, -1 pass -> fail, else 0)."""
    delta = score_value(metric, current_score) - score_value(metric, baseline_score)
    return delta if higher_better(metric) else -delta


def change_of(oriented: float) -> str:
    """``improved``, ``regressed`` or ``unchanged``: the sign of an :func:`oriented_change`."""
    if oriented > 0:
        return IMPROVED
    return REGRESSED if oriented < 0 else UNCHANGED


def item_change(
    metric: MetricSpec, baseline_score: float | None, current_score: float | None
) -> str:
    """Whether the item improved, regressed or is unchanged on ``metric``.

    For a pass rate these are exactly McNemar's discordant pairs (the gate's improved and
    regressed counts); for a mean score the signs of the paired differences its Wilcoxon or
    bootstrap test reads."""
    return change_of(oriented_change(metric, baseline_score, current_score))


def summarize(items: Sequence[ItemRecord], config: EvalConfig) -> dict[str, Any]:
    """Per metric: aggregate value, bootstrap confidence interval, item and error counts, and
    the per-item rule (direction, pass threshold) the compare page needs to badge items."""
    summary: dict[str, Any] = {}
    for metric in config.metrics:
        values = [item_value(metric, item) for item in items]
        interval = bootstrap_ci(values, samples=config.bootstrap_samples, seed=config.seed)
        summary[metric.name] = {
            "aggregate": metric.aggregate,
            "value": interval.estimate,
            "ci_low": interval.low,
            "ci_high": interval.high,
            "n": len(values),
            "errors": sum(1 for item in items if item.error or metric.name in item.metric_errors),
            "higher_is_better": metric.higher_is_better,
            "pass_threshold": metric.pass_threshold,
            "tolerance": metric.tolerance,
        }
    return summary


def metric_from_summary(name: str, summary: dict[str, Any]) -> MetricSpec:
    """The per-item rule of a recorded metric, from its run summary (runs recorded before the
    summary carried the rule get the defaults: higher is better, pass threshold 0.5)."""
    higher = summary.get("higher_is_better", True)
    threshold = summary.get("pass_threshold", 0.5)
    return MetricSpec(
        name=name,
        aggregate=str(summary.get("aggregate", "mean")),
        higher_is_better=higher if isinstance(higher, bool) else True,
        pass_threshold=float(threshold) if isinstance(threshold, int | float) else 0.5,
    )
