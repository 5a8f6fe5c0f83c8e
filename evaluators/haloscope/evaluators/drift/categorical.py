"""Drift statistics for one categorical feature: chi-square, PSI and Jensen-Shannon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from haloscope.evaluators.drift.distributions import jensen_shannon, psi
from scipy import stats


@dataclass(frozen=True)
class CategoricalDrift:
    """Two-sample statistics of a categorical feature over the union of its categories.

    ``new_categories`` counts categories seen only in the current sample.
    """

    chi2_statistic: float
    chi2_pvalue: float
    psi: float
    jensen_shannon: float
    categories: int
    new_categories: int


def category_counts(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each category (over the union of both samples) in each sample."""
    ref = np.asarray(reference).ravel()
    cur = np.asarray(current).ravel()
    _, codes = np.unique(np.concatenate([ref, cur]), return_inverse=True)
    size = int(codes.max()) + 1 if codes.size else 0
    return (
        np.bincount(codes[: ref.size], minlength=size),
        np.bincount(codes[ref.size :], minlength=size),
    )


def categorical_drift(reference: np.ndarray, current: np.ndarray) -> CategoricalDrift:
    """Compare two samples of a categorical feature (any hashable, sortable values)."""
    ref_counts, cur_counts = category_counts(reference, current)
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        raise ValueError("categorical_drift needs at least one value on each side")
    if ref_counts.size < 2:
        chi2, pvalue = 0.0, 1.0
    else:
        result = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]), correction=False)
        chi2, pvalue = float(result.statistic), float(result.pvalue)
    return CategoricalDrift(
        chi2_statistic=chi2,
        chi2_pvalue=pvalue,
        psi=psi(ref_counts, cur_counts),
        jensen_shannon=jensen_shannon(ref_counts, cur_counts),
        categories=int(ref_counts.size),
        new_categories=int(np.sum((ref_counts == 0) & (cur_counts > 0))),
    )
