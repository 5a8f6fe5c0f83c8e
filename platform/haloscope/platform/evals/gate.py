"""``haloscope eval gate``: a run against its thresholds and a baseline run.

A metric *regresses* when the paired change, oriented so that negative is worse, is below
``-tolerance`` **and** the paired test rejects "no change" at ``alpha``; it *breaches* when
its aggregate is below ``min`` or above ``max``. Either fails the gate. Items are paired by
id; items of only one run are left out of the paired test (and reported). Each paired item is
counted improved, regressed or unchanged by :func:`~haloscope.platform.evals.scoring.item_change`
(the rule the dashboard's compare page badges items with); the regressed ones are listed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from haloscope.platform.evals.config import EvalConfig, MetricSpec
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.runs import RunRecord
from haloscope.platform.evals.scoring import (
    IMPROVED,
    REGRESSED,
    higher_better,
    item_change,
    item_passed,
    item_value,
)
from haloscope.platform.evals.stats import (
    Interval,
    PairedTest,
    bootstrap_ci,
    mcnemar,
    paired_bootstrap,
    wilcoxon_signed_rank,
)

PASS, FAIL = "pass", "fail"


@dataclass(frozen=True)
class MetricVerdict:
    """The gate's finding on one metric."""

    name: str
    aggregate: str
    higher_is_better: bool
    current: Interval
    baseline: float | None
    test: PairedTest | None
    paired_items: int
    tolerance: float
    regression: bool
    breach: str | None
    errors: int
    regressed_items: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``pass`` or ``fail``."""
        return FAIL if self.regression or self.breach else PASS

    @property
    def reason(self) -> str:
        """Why the metric failed, or an empty string."""
        reasons = [self.breach] if self.breach else []
        if self.regression and self.test is not None:
            reasons.append(
                f"significant regression: change {self.test.delta:+.3f} beyond tolerance "
                f"{self.tolerance:g} (p={self.test.p_value:.3g}, {self.test.method})"
            )
        return "; ".join(reasons)


@dataclass(frozen=True)
class GateReport:
    """The verdict on a run, with one :class:`MetricVerdict` per configured metric."""

    run_id: str
    baseline_run_id: str | None
    baseline_source: str | None
    alpha: float
    metrics: tuple[MetricVerdict, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> str:
        """``fail`` when any metric failed, else ``pass``."""
        return FAIL if any(m.status == FAIL for m in self.metrics) else PASS

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-serialisable dict."""
        return {
            "verdict": self.verdict,
            "run_id": self.run_id,
            "baseline_run_id": self.baseline_run_id,
            "baseline_source": self.baseline_source,
            "alpha": self.alpha,
            "notes": list(self.notes),
            "metrics": [
                {
                    **asdict(m),
                    "current": asdict(m.current),
                    "test": asdict(m.test) if m.test else None,
                    "status": m.status,
                    "reason": m.reason,
                }
                for m in self.metrics
            ],
        }


def _breach(metric: MetricSpec, value: float) -> str | None:
    if metric.min is not None and value < metric.min:
        return f"{metric.aggregate} {value:.3f} is below the minimum {metric.min:g}"
    if metric.max is not None and value > metric.max:
        return f"{metric.aggregate} {value:.3f} is above the maximum {metric.max:g}"
    return None


def _paired_test(
    metric: MetricSpec, config: EvalConfig, current: RunRecord, baseline: RunRecord
) -> tuple[PairedTest | None, int, tuple[str, ...]]:
    if not any(metric.name in item.scores for item in baseline.items):
        return None, 0, ()
    base_items = {item.id: item for item in baseline.items}
    pairs = [(base_items[item.id], item) for item in current.items if item.id in base_items]
    if not pairs:
        return None, 0, ()
    if metric.aggregate == "pass_rate":
        test = mcnemar(
            [item_passed(metric, b.scores.get(metric.name)) for b, _ in pairs],
            [item_passed(metric, c.scores.get(metric.name)) for _, c in pairs],
        )
    else:
        base = [item_value(metric, b) for b, _ in pairs]
        cur = [item_value(metric, c) for _, c in pairs]
        if metric.test == "bootstrap":
            test = paired_bootstrap(base, cur, samples=config.bootstrap_samples, seed=config.seed)
        else:
            test = wilcoxon_signed_rank(base, cur)
    changes = [
        (c.id, item_change(metric, b.scores.get(metric.name), c.scores.get(metric.name)))
        for b, c in pairs
    ]
    regressed = tuple(item_id for item_id, change in changes if change == REGRESSED)
    improved = sum(1 for _, change in changes if change == IMPROVED)
    return replace(test, improved=improved, regressed=len(regressed)), len(pairs), regressed


def _verdict(
    metric: MetricSpec, config: EvalConfig, current: RunRecord, baseline: RunRecord | None
) -> MetricVerdict:
    values = [item_value(metric, item) for item in current.items]
    interval = bootstrap_ci(values, samples=config.bootstrap_samples, seed=config.seed)
    test, paired, regressed_items = (None, 0, ())
    baseline_value = None
    if baseline is not None:
        test, paired, regressed_items = _paired_test(metric, config, current, baseline)
    if baseline is not None and test is not None:
        baseline_value = sum(item_value(metric, i) for i in baseline.items) / len(baseline.items)
    regression = False
    if test is not None:
        worse_by = -test.delta if higher_better(metric) else test.delta
        regression = worse_by > metric.tolerance and test.p_value < config.alpha
    errors = sum(1 for i in current.items if i.error or metric.name in i.metric_errors)
    return MetricVerdict(
        name=metric.name,
        aggregate=metric.aggregate,
        higher_is_better=metric.higher_is_better,
        current=interval,
        baseline=baseline_value,
        test=test,
        paired_items=paired,
        tolerance=metric.tolerance,
        regression=regression,
        breach=_breach(metric, interval.estimate),
        errors=errors,
        regressed_items=regressed_items,
    )


def run_gate(
    current: RunRecord,
    config: EvalConfig,
    baseline: RunRecord | None = None,
    baseline_source: str | None = None,
) -> GateReport:
    """Judge ``current`` against the config's thresholds and, if given, ``baseline``."""
    notes = []
    if baseline is None:
        notes.append("no baseline: only absolute thresholds were checked")
    else:
        if current.dataset.get("hash") != baseline.dataset.get("hash"):
            notes.append(
                f"dataset differs from the baseline's ({baseline.dataset.get('name')}"
                f"@{baseline.dataset.get('version')}): only items with the same id are paired"
            )
        unpaired = len({i.id for i in current.items} ^ {i.id for i in baseline.items})
        if unpaired:
            notes.append(f"{unpaired} item(s) appear in only one of the two runs")
    if current.config_digest != config.digest:
        notes.append("the run was made with a different eval config than the gate's")
    missing = [m.name for m in config.metrics if not any(m.name in i.scores for i in current.items)]
    if missing:
        raise EvalUsageError(
            f"run {current.run_id} has no scores for metric(s) {missing}; re-run "
            "`haloscope eval run` with this config"
        )
    if baseline is not None:
        notes.extend(
            f"the baseline has no scores for {m.name!r}: not compared"
            for m in config.metrics
            if not any(m.name in i.scores for i in baseline.items)
        )
    return GateReport(
        run_id=current.run_id,
        baseline_run_id=baseline.run_id if baseline else None,
        baseline_source=baseline_source,
        alpha=config.alpha,
        metrics=tuple(_verdict(m, config, current, baseline) for m in config.metrics),
        notes=tuple(notes),
    )
