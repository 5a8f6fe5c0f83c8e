"""Drift statistics for embedding vectors: distance between means and MMD with permutations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_SAMPLES = 500
DEFAULT_PERMUTATIONS = 200


@dataclass(frozen=True)
class EmbeddingDrift:
    """Two-sample statistics of embeddings.

    ``mean_euclidean``/``mean_cosine``: Euclidean and cosine distance between the two mean
    vectors; ``mmd2``: squared maximum mean discrepancy (RBF kernel, median-heuristic
    bandwidth, biased estimate) and ``mmd_pvalue`` its permutation p-value.
    """

    mean_euclidean: float
    mean_cosine: float
    mmd2: float
    mmd_pvalue: float
    permutations: int
    samples_used: int


def embedding_drift(
    reference: np.ndarray,
    current: np.ndarray,
    max_samples: int = DEFAULT_MAX_SAMPLES,
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = 0,
) -> EmbeddingDrift:
    """Compare two ``(n, dim)`` samples of embeddings.

    Means use every row; MMD uses at most ``max_samples`` rows per side (a seeded random
    subset) and all ``permutations`` at once: with ``s`` the +1/n, -1/m group weights, MMD² is
    ``s @ K @ s``, so one matrix product scores every relabelling.
    """
    ref = np.asarray(reference, dtype=np.float64)
    cur = np.asarray(current, dtype=np.float64)
    if ref.ndim != 2 or cur.ndim != 2 or ref.shape[1] != cur.shape[1]:
        raise ValueError(
            f"embeddings must be 2-D with equal widths, got {ref.shape} and {cur.shape}"
        )
    mean_ref, mean_cur = ref.mean(axis=0), cur.mean(axis=0)
    norms = np.linalg.norm(mean_ref) * np.linalg.norm(mean_cur)
    mean_cosine = 1.0 - float(mean_ref @ mean_cur / norms) if norms > 0 else 0.0

    rng = np.random.default_rng(seed)
    ref = _subsample(ref, max_samples, rng)
    cur = _subsample(cur, max_samples, rng)
    pooled = np.vstack([ref, cur])
    kernel = _rbf_kernel(pooled)
    n, total = ref.shape[0], pooled.shape[0]
    labels = np.vstack(
        [np.arange(total) < n, [rng.permutation(total) < n for _ in range(permutations)]]
    )
    weights = np.where(labels, 1.0 / n, -1.0 / (total - n))
    mmd2 = np.einsum("pi,pi->p", weights @ kernel, weights)
    observed = float(mmd2[0])
    pvalue = float((1 + np.sum(mmd2[1:] >= observed)) / (1 + permutations))
    return EmbeddingDrift(
        mean_euclidean=float(np.linalg.norm(mean_ref - mean_cur)),
        mean_cosine=mean_cosine,
        mmd2=max(observed, 0.0),
        mmd_pvalue=pvalue,
        permutations=permutations,
        samples_used=total,
    )


def _subsample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if rows.shape[0] <= limit:
        return rows
    return rows[rng.choice(rows.shape[0], size=limit, replace=False)]


def _rbf_kernel(points: np.ndarray) -> np.ndarray:
    """Gaussian kernel matrix with the median pairwise squared distance as bandwidth."""
    sq = np.sum(points**2, axis=1)
    dist2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * points @ points.T, 0.0)
    upper = dist2[np.triu_indices_from(dist2, k=1)]
    bandwidth = float(np.median(upper)) if upper.size else 1.0
    return np.exp(-dist2 / (bandwidth if bandwidth > 0 else 1.0))
