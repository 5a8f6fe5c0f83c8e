"""Gate statistics against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from haloscope.platform.evals.stats import (
    bootstrap_ci,
    mcnemar,
    paired_bootstrap,
    wilcoxon_signed_rank,
)
from scipy import stats as sps


def test_mcnemar_counts_and_exact_binomial() -> None:
    # 10 items: 6 pass->fail, 0 fail->pass, 4 unchanged.
    base = [True] * 8 + [False] * 2
    cur = [False] * 6 + [True] * 2 + [False] * 2
    test = mcnemar(base, cur)
    assert (test.regressed, test.improved) == (6, 0)
    assert test.method == "mcnemar-exact"
    assert test.p_value == pytest.approx(2 * 0.5**6)  # two-sided binomial, 0 of 6
    assert test.delta == pytest.approx(-0.6)


def test_mcnemar_chi_square_with_continuity_correction() -> None:
    base = [True] * 25 + [False] * 5 + [True] * 10
    cur = [False] * 25 + [True] * 5 + [True] * 10
    test = mcnemar(base, cur)
    assert (test.regressed, test.improved, test.method) == (25, 5, "mcnemar-chi2")
    assert test.p_value == pytest.approx(sps.chi2.sf((20 - 1) ** 2 / 30, 1))


def test_mcnemar_without_discordant_pairs_is_no_evidence() -> None:
    assert mcnemar([True, False], [True, False]).p_value == 1.0


def test_bootstrap_ci_covers_the_true_mean_in_most_seeds() -> None:
    covered = 0
    for seed in range(100):
        sample = np.random.default_rng(1000 + seed).normal(0.7, 0.2, size=60)
        interval = bootstrap_ci(sample, samples=1000, seed=seed)
        assert interval.low <= interval.estimate <= interval.high
        covered += interval.low <= 0.7 <= interval.high
    assert covered >= 88  # nominal 95%; percentile bootstrap is a little narrow at n=60


def test_paired_tests_separate_a_shift_from_no_change() -> None:
    rng = np.random.default_rng(7)
    base = rng.uniform(0.5, 1.0, size=50)
    shifted = base - 0.1 + rng.normal(0, 0.02, size=50)
    for test in (wilcoxon_signed_rank(base, shifted), paired_bootstrap(base, shifted)):
        assert test.p_value < 0.001 and test.delta == pytest.approx(-0.1, abs=0.02)
    same = paired_bootstrap(base, base)
    assert same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0
    assert wilcoxon_signed_rank(base, base).p_value == 1.0
    noise = base + rng.normal(0, 0.02, size=50)
    assert wilcoxon_signed_rank(base, noise).p_value > 0.01
