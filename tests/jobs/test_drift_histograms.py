"""The histograms a drift report stores for the dashboard."""

from __future__ import annotations

import numpy as np
from haloscope.platform.jobs.drift_histograms import feature_histograms, numeric_histogram


def test_numeric_bins_are_the_baseline_deciles_and_an_edge_value_falls_below_it() -> None:
    baseline = np.arange(1.0, 101.0)  # deciles 10.9, 20.8, ..., 90.1
    current = np.array([10.9, 11.0, 500.0, np.nan])
    histogram = numeric_histogram(baseline, current)
    assert histogram is not None
    assert len(histogram["labels"]) == 10 and histogram["labels"][-1] == "> 90.1"
    assert histogram["baseline"] == [10] * 10
    assert histogram["current"] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]  # NaN is left out


def test_error_counts_ok_and_error_and_embeddings_and_empty_features_have_none() -> None:
    histograms = feature_histograms(
        {"error": np.array([0, 0, 1]), "cost": np.empty(0), "input_embedding": np.ones((2, 3))},
        {"error": np.array([1, 1]), "cost": np.empty(0), "input_embedding": np.ones((2, 3))},
        categorical=("error",),
        skip=("input_embedding",),
    )
    assert histograms == {
        "error": {"labels": ["ok", "error"], "baseline": [2, 1], "current": [0, 2]}
    }
