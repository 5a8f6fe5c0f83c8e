"""Platt calibration and detector metrics."""

from __future__ import annotations

import numpy as np
import pytest
from haloscope.evaluators.calibration import Calibration, fit_calibration
from haloscope.evaluators.metrics import auroc, best_threshold, binary_metrics, pairwise_accuracy


def test_platt_scaling_recovers_a_miscalibrated_detector(tmp_path):
    rng = np.random.default_rng(0)
    true_logit = rng.normal(0, 2, size=4000)
    labels = rng.random(4000) < 1 / (1 + np.exp(-true_logit))
    raw = 1 / (1 + np.exp(-(0.25 * true_logit + 1.5)))  # squashed and biased
    calibration = fit_calibration(raw, labels, dataset="synthetic")
    assert calibration.slope == pytest.approx(4.0, rel=0.15)
    assert calibration.intercept == pytest.approx(-6.0, rel=0.15)
    calibrated = calibration.probability(raw)
    # calibrated probabilities match observed frequencies per decile
    bins = np.quantile(calibrated, np.linspace(0, 1, 11))
    index = np.clip(np.searchsorted(bins, calibrated, side="right") - 1, 0, 9)
    for b in range(10):
        assert abs(calibrated[index == b].mean() - labels[index == b].mean()) < 0.08
    path = tmp_path / "x-1.json"
    calibration.save(path)
    assert Calibration.load(path) == calibration


def test_metrics_on_hand_made_scores():
    labels = np.array([0, 0, 1, 1], dtype=bool)
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), labels) == 0.75
    assert auroc(np.array([0.5, 0.5, 0.5, 0.5]), labels) == 0.5
    metrics = binary_metrics(np.array([0.1, 0.4, 0.35, 0.8]), labels, threshold=0.3)
    assert (metrics.accuracy, metrics.f1) == (0.75, pytest.approx(0.8))
    assert 0.1 < best_threshold(np.array([0.1, 0.2, 0.6, 0.9]), labels) < 0.6
    with pytest.raises(ValueError, match="both positive and negative"):
        auroc(np.array([0.1, 0.2]), np.array([True, True]))


def test_pairwise_accuracy_counts_ties_half():
    # pairs (faithful, hallucinated): ranked right, tied, ranked wrong
    assert pairwise_accuracy(np.array([0.1, 0.9, 0.5, 0.5, 0.8, 0.2])) == pytest.approx(0.5)
    assert pairwise_accuracy(np.array([0.0, 1.0, 0.2, 0.3])) == 1.0
