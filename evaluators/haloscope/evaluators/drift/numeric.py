"""Drift statistics for one numerical feature: KS, Wasserstein, PSI and Jensen-Shannon."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from haloscope.evaluators.drift.distributions import jensen_shannon, psi
from scipy import stats

DEFAULT_BINS = 10


@dataclass(frozen=True)
class NumericDrift:
    """Two-sample statistics of a numerical feature.

    ``ks_statistic``/``ks_pvalue``: Kolmogorov-Smirnov (asymptotic p-value); ``wasserstein``:
    earth mover's distance in the feature's units, and ``wasserstein_norm`` divided by the
    reference's standard deviation; ``psi`` and ``jensen_shannon`` (distance, base 2) on
    quantile bins of the reference.
    """

    ks_statistic: float
    ks_pvalue: float
    wasserstein: float
    wasserstein_norm: float
    psi: float
    jensen_shannon: float


def finite_values(values: np.ndarray) -> np.ndarray:
    """The finite values of a 1-D numerical array as float64 (NaN and inf dropped)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def numeric_drift(
    reference: np.ndarray, current: np.ndarray, bins: int = DEFAULT_BINS
) -> NumericDrift:
    """Compare two samples of a numerical feature (non-finite values are dropped).

    Both samples are sorted once and merged; see :func:`_ecdf_distances`.
    """
    ref = np.sort(finite_values(reference))
    cur = np.sort(finite_values(current))
    if ref.size == 0 or cur.size == 0:
        raise ValueError("numeric_drift needs at least one finite value on each side")
    ks, wasserstein = _ecdf_distances(ref, cur)
    effective_n = round(ref.size * cur.size / (ref.size + cur.size))
    ks_pvalue = float(stats.kstwo.sf(ks, max(effective_n, 1)))

    edges = np.unique(ref[(np.arange(1, bins) * ref.size) // bins])
    ref_counts = _bin_counts(ref, edges)
    cur_counts = _bin_counts(cur, edges)
    std = float(ref.std())
    return NumericDrift(
        ks_statistic=ks,
        ks_pvalue=ks_pvalue,
        wasserstein=wasserstein,
        wasserstein_norm=wasserstein / std if std > 0 else float(wasserstein > 0) * np.inf,
        psi=psi(ref_counts, cur_counts),
        jensen_shannon=jensen_shannon(ref_counts, cur_counts),
    )


def _ecdf_distances(ref: np.ndarray, cur: np.ndarray) -> tuple[float, float]:
    """KS statistic (largest gap between the empirical CDFs) and Wasserstein (area between them).

    ``ref`` and ``cur`` are sorted, so a stable argsort of their concatenation is a merge; the
    CDFs are running counts of each side, read at the last position of every run of ties.
    """
    both = np.concatenate([ref, cur])
    order = np.argsort(both, kind="stable")
    merged = both[order]
    ref_seen = np.cumsum(order < ref.size, dtype=np.int64)
    cur_seen = np.arange(1, merged.size + 1) - ref_seen
    # F_ref - F_cur over a common denominator: exact zeros where the CDFs meet
    gap = (ref_seen * cur.size - cur_seen * ref.size) / (ref.size * cur.size)
    support = merged
    if merged.size > 1 and np.any(merged[1:] == merged[:-1]):
        run_end = np.append(merged[1:] != merged[:-1], True)
        gap, support = gap[run_end], merged[run_end]
    return float(np.max(np.abs(gap))), float(np.sum(np.abs(gap[:-1]) * np.diff(support)))


def _bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ``(-inf, e0], (e0, e1], ..., (e_last, inf)`` of a sorted array."""
    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [sorted_values.size]]))
