"""Per-item metric values and run summaries.

An item's value for a metric is its score (``aggregate: mean``) or 1/0 for pass/fail
(``pass_rate``). An item the target or the evaluator failed on counts as the worst value
(score 0, or 1 when lower is better; a failed pass), so errors never improve a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haloscope.platform.evals.config import EvalConfig, MetricSpec
from haloscope.platform.evals.runs import ItemRecord
from haloscope.platform.evals.stats import bootstrap_ci


def item_passed(metric: MetricSpec, score: float | None) -> bool:
    """Whether a score passes the metric's per-item threshold (None never passes)."""
    if score is None:
        return False
    if metric.higher_is_better:
        return score >= metric.pass_threshold
    return score <= metric.pass_threshold


def item_value(metric: MetricSpec, item: ItemRecord) -> float:
    """The number this item contributes to the metric's aggregate."""
    score = item.scores.get(metric.name)
    if metric.aggregate == "pass_rate":
        return 1.0 if item_passed(metric, score) else 0.0
    if score is None:
        return 0.0 if metric.higher_is_better else 1.0
    return float(score)


def summarize(items: Sequence[ItemRecord], config: EvalConfig) -> dict[str, Any]:
    """Per metric: aggregate value, bootstrap confidence interval, item and error counts."""
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
        }
    return summary
