"""Drift statistics: agreement with scipy, false-positive rate and power over many seeds."""

from __future__ import annotations

import numpy as np
import pytest
from haloscope.evaluators.drift import (
    categorical_drift,
    drift_report,
    embedding_drift,
    numeric_drift,
    psi,
)
from scipy import stats

SEEDS = 200


def test_numeric_statistics_match_scipy_with_and_without_ties():
    rng = np.random.default_rng(7)
    for a, b in (
        (rng.normal(size=300), rng.normal(0.3, 1.2, size=450)),
        (rng.integers(0, 5, 200).astype(float), rng.integers(0, 6, 150).astype(float)),
    ):
        drift = numeric_drift(a, b)
        reference = stats.ks_2samp(a, b, method="asymp")
        assert drift.ks_statistic == pytest.approx(reference.statistic, abs=1e-12)
        assert drift.ks_pvalue == pytest.approx(reference.pvalue, rel=1e-6)
        assert drift.wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)


def test_psi_on_known_proportions():
    assert psi(np.array([50, 50]), np.array([50, 50])) == 0.0
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert psi(np.array([50, 50]), np.array([80, 20])) == pytest.approx(expected)


def test_non_finite_values_are_dropped():
    a = np.array([np.nan, np.inf, *np.linspace(0, 1, 50)])
    assert numeric_drift(a, np.linspace(0, 1, 50)).ks_statistic == 0.0


def _rejection_rate(pvalues: list[float]) -> float:
    return float(np.mean(np.array(pvalues) <= 0.05))


def test_ks_false_positive_rate_and_power_over_seeds():
    rng = np.random.default_rng(0)
    null = [
        numeric_drift(rng.normal(size=200), rng.normal(size=200)).ks_pvalue for _ in range(SEEDS)
    ]
    shifted = [
        numeric_drift(rng.normal(size=200), rng.normal(0.4, size=200)).ks_pvalue
        for _ in range(SEEDS)
    ]
    assert _rejection_rate(null) <= 0.075
    assert _rejection_rate(shifted) >= 0.85


def test_chi_square_false_positive_rate_and_power_over_seeds():
    rng = np.random.default_rng(1)
    cats = np.array(["a", "b", "c", "d"])
    base, moved = [0.4, 0.3, 0.2, 0.1], [0.3, 0.3, 0.2, 0.2]
    null = [
        categorical_drift(rng.choice(cats, 300, p=base), rng.choice(cats, 300, p=base)).chi2_pvalue
        for _ in range(SEEDS)
    ]
    shifted = [
        categorical_drift(rng.choice(cats, 300, p=base), rng.choice(cats, 300, p=moved)).chi2_pvalue
        for _ in range(SEEDS)
    ]
    assert _rejection_rate(null) <= 0.075
    assert _rejection_rate(shifted) >= 0.85


def test_new_categories_are_counted():
    result = categorical_drift(np.array(["a", "b"] * 20), np.array(["a", "b", "z"] * 20))
    assert (result.categories, result.new_categories) == (3, 1)


def test_mmd_false_positive_rate_and_power_over_seeds():
    rng = np.random.default_rng(2)

    def pvalue(shift: float, seed: int) -> float:
        ref = rng.normal(size=(60, 8))
        cur = rng.normal(size=(60, 8))
        cur[:, 0] += shift
        return embedding_drift(ref, cur, permutations=100, seed=seed).mmd_pvalue

    null = [pvalue(0.0, s) for s in range(40)]
    shifted = [pvalue(1.0, s) for s in range(40)]
    assert _rejection_rate(null) <= 0.15  # 40 seeds: binomial noise around 0.05
    assert _rejection_rate(shifted) >= 0.85


def test_mean_embedding_distance():
    ref = np.tile([1.0, 0.0], (50, 1))
    cur = np.tile([0.0, 1.0], (50, 1))
    result = embedding_drift(ref, cur, permutations=20)
    assert result.mean_cosine == pytest.approx(1.0)
    assert result.mean_euclidean == pytest.approx(np.sqrt(2))


def test_report_flags_only_the_shifted_features_with_bh():
    rng = np.random.default_rng(3)
    n = 2000
    reference = {f"x{i}": rng.normal(size=n) for i in range(10)}
    current = {f"x{i}": rng.normal(size=n) for i in range(10)}
    current["x3"] = rng.normal(0.5, size=n)
    reference["model"] = rng.choice(["gpt", "claude"], n, p=[0.7, 0.3])
    current["model"] = rng.choice(["gpt", "claude"], n, p=[0.3, 0.7])
    reference["embedding"] = rng.normal(size=(300, 16))
    current["embedding"] = rng.normal(size=(300, 16)) + 0.5
    report = drift_report(reference, current)
    assert sorted(report.drifted) == ["embedding", "model", "x3"]
    kinds = {name: f.kind for name, f in report.features.items()}
    assert (kinds["x0"], kinds["model"], kinds["embedding"]) == (
        "numeric",
        "categorical",
        "embedding",
    )
    x0 = report.features["x0"]
    assert x0.p_adjusted >= x0.p_value and x0.status == "no_drift"


def test_small_significant_shift_is_not_drift_below_min_psi():
    rng = np.random.default_rng(4)
    reference = {"x": rng.normal(size=200_000)}
    current = {"x": rng.normal(0.05, size=200_000)}
    feature = drift_report(reference, current).features["x"]
    assert feature.significant and feature.statistics["psi"] < 0.1
    assert feature.status == "no_drift"
    assert drift_report(reference, current, min_psi=0.0).features["x"].status == "drift"


def test_not_enough_data_is_explicit_and_left_out_of_bh():
    rng = np.random.default_rng(5)
    reference = {"few": rng.normal(size=10), "many": rng.normal(size=500)}
    current = {"few": rng.normal(size=500), "many": rng.normal(size=500)}
    report = drift_report(reference, current)
    few = report.features["few"]
    assert few.status == "insufficient_data" and few.p_value is None
    assert "10 reference" in few.message and "30 needed" in few.message
    assert report.features["many"].p_adjusted == report.features["many"].p_value


def test_report_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="only in current: \\['b'\\]"):
        drift_report({"a": np.zeros(50)}, {"a": np.zeros(50), "b": np.zeros(50)})
    with pytest.raises(ValueError, match="different kinds"):
        drift_report({"a": np.zeros(50)}, {"a": np.array(["x"] * 50)})
    with pytest.raises(ValueError, match="fdr"):
        drift_report({"a": np.zeros(50)}, {"a": np.zeros(50)}, fdr=1.5)
