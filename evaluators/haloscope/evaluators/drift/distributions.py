"""Divergences between two binned distributions given as counts over the same bins."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import jensenshannon

PSI_EPSILON = 1e-4


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population Stability Index: sum over bins of (q - p) * ln(q / p).

    Proportions are floored at ``PSI_EPSILON`` so an empty bin gives a large, finite value.
    Conventional reading: < 0.1 stable, 0.1-0.25 moderate shift, > 0.25 major shift.
    """
    p = np.maximum(reference_counts / reference_counts.sum(), PSI_EPSILON)
    q = np.maximum(current_counts / current_counts.sum(), PSI_EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (square root of the divergence, base 2): 0 same, 1 disjoint."""
    return float(jensenshannon(reference_counts, current_counts, base=2))
