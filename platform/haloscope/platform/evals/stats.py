"""Gate statistics: bootstrap confidence intervals and paired tests of two runs.

* :func:`bootstrap_ci` — percentile bootstrap of the mean, all resamples in one numpy draw.
* :func:`mcnemar` — pass/fail on the same items: exact two-sided binomial test on the
  discordant pairs when there are fewer than 25 of them, else the chi-square statistic with
  continuity correction.
* :func:`wilcoxon_signed_rank` and :func:`paired_bootstrap` — paired score differences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EXACT_MCNEMAR_BELOW = 25


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval."""

    estimate: float
    low: float
    high: float


@dataclass(frozen=True)
class PairedTest:
    """A paired test's outcome: ``delta`` is mean(current - baseline), ``p_value`` two-sided.

    For McNemar, ``improved`` counts items failing in the baseline and passing now,
    ``regressed`` the reverse; the gate sets both for every test from its per-item rule
    (``scoring.item_change``), which gives McNemar's counts for a pass rate.
    """

    method: str
    delta: float
    p_value: float
    ci_low: float | None = None
    ci_high: float | None = None
    improved: int | None = None
    regressed: int | None = None


def _resample_means(values: np.ndarray, samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(samples, values.size))
    return values[idx].mean(axis=1)


def bootstrap_ci(
    values: Sequence[float], *, confidence: float = 0.95, samples: int = 2000, seed: int = 0
) -> Interval:
    """Mean of ``values`` with a percentile bootstrap interval at ``confidence``."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    means = _resample_means(data, samples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(float(data.mean()), float(low), float(high))


def mcnemar(baseline: Sequence[bool], current: Sequence[bool]) -> PairedTest:
    """McNemar's test of paired pass/fail outcomes (same items, same order)."""
    if len(baseline) != len(current):
        raise ValueError("mcnemar needs paired outcomes of equal length")
    base, cur = np.asarray(baseline, dtype=bool), np.asarray(current, dtype=bool)
    improved = int(np.sum(~base & cur))
    regressed = int(np.sum(base & ~cur))
    discordant = improved + regressed
    delta = (improved - regressed) / len(base) if len(base) else 0.0
    if discordant == 0:
        p_value, method = 1.0, "mcnemar-exact"
    elif discordant < EXACT_MCNEMAR_BELOW:
        from scipy import (
            stats as sps,
        )  # imported when used: scipy takes ~1 s to import (CLI and API start-up)

        p_value = float(sps.binomtest(min(improved, regressed), discordant, 0.5).pvalue)
        method = "mcnemar-exact"
    else:
        from scipy import (
            stats as sps,
        )  # imported when used: scipy takes ~1 s to import (CLI and API start-up)

        statistic = (abs(improved - regressed) - 1) ** 2 / discordant
        p_value, method = float(sps.chi2.sf(statistic, df=1)), "mcnemar-chi2"
    return PairedTest(method, delta, min(p_value, 1.0), improved=improved, regressed=regressed)


def wilcoxon_signed_rank(baseline: Sequence[float], current: Sequence[float]) -> PairedTest:
    """Wilcoxon signed-rank test of paired scores (zero differences dropped)."""
    diff = np.asarray(current, dtype=float) - np.asarray(baseline, dtype=float)
    delta = float(diff.mean()) if diff.size else 0.0
    if not np.any(diff != 0):
        return PairedTest("wilcoxon", delta, 1.0)
    from scipy import (
        stats as sps,
    )  # imported when used: scipy takes ~1 s to import (CLI and API start-up)

    result = sps.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
    return PairedTest("wilcoxon", delta, float(result.pvalue))


def paired_bootstrap(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    confidence: float = 0.95,
    samples: int = 2000,
    seed: int = 0,
) -> PairedTest:
    """Paired bootstrap of the mean difference: its interval, and a two-sided p-value from
    resampling the differences centred on zero (the null of no change)."""
    diff = np.asarray(current, dtype=float) - np.asarray(baseline, dtype=float)
    if diff.size == 0:
        raise ValueError("paired_bootstrap needs at least one pair")
    delta = float(diff.mean())
    means = _resample_means(diff, samples, seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    null_means = means - delta
    p_value = (np.sum(np.abs(null_means) >= abs(delta) - 1e-12) + 1) / (samples + 1)
    if not np.any(diff != 0):
        p_value = 1.0
    return PairedTest("paired-bootstrap", delta, float(min(p_value, 1.0)), float(low), float(high))
