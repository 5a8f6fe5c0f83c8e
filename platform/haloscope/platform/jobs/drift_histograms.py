"""Baseline-vs-current histograms of a drift report's features, from the job's own samples.

They are stored with the report, so the dashboard draws them without reading the trace store.
Numeric features are binned on the baseline's deciles (the bins of the drift test's PSI):
``(-inf, e0], (e0, e1], ..., (e_last, inf)``; a value's bin is the number of edges below it.
Integer-coded categorical features get one bin per value (``error``: ok, error).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DECILES = np.linspace(0.1, 0.9, 9)
CATEGORY_LABELS: dict[str, tuple[str, ...]] = {"error": ("ok", "error")}


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    if not len(edges):
        return ["all values"]
    inner = [f"{_number(a)}–{_number(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    return [f"≤ {_number(edges[0])}", *inner, f"> {_number(edges[-1])}"]


def numeric_histogram(baseline: np.ndarray, current: np.ndarray) -> dict[str, Any] | None:
    """Counts of both windows over the baseline's distinct deciles (the current window's when
    the baseline is empty); None when neither window has a finite value."""
    base = baseline[np.isfinite(baseline)]
    cur = current[np.isfinite(current)]
    reference = base if base.size else cur
    if not reference.size:
        return None
    edges = np.unique(np.quantile(reference, DECILES))
    size = len(edges) + 1
    counts = [
        np.bincount(np.searchsorted(edges, values, side="left"), minlength=size).tolist()
        for values in (base, cur)
    ]
    return {"labels": bin_labels(edges.tolist()), "baseline": counts[0], "current": counts[1]}


def categorical_histogram(
    name: str, baseline: np.ndarray, current: np.ndarray
) -> dict[str, Any] | None:
    """Counts per category value of both windows; None when both are empty."""
    values = sorted({int(v) for v in np.concatenate([baseline, current]).tolist()})
    if not values:
        return None
    names = CATEGORY_LABELS.get(name, ())
    labels = [names[v] if 0 <= v < len(names) else str(v) for v in values]
    counts = [[int(np.sum(side == v)) for v in values] for side in (baseline, current)]
    return {"labels": labels, "baseline": counts[0], "current": counts[1]}


def feature_histograms(
    baseline: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    categorical: Sequence[str],
    skip: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """Per feature (but those in ``skip``, e.g. embeddings) its histogram, when it has data."""
    result = {}
    for name in baseline.keys() | current.keys():
        if name in skip:
            continue
        base = np.asarray(baseline.get(name, np.empty(0)), dtype=np.float64)
        cur = np.asarray(current.get(name, np.empty(0)), dtype=np.float64)
        if name in categorical:
            histogram = categorical_histogram(name, base, cur)
        else:
            histogram = numeric_histogram(base, cur)
        if histogram is not None:
            result[name] = histogram
    return result
