"""Binary-classification metrics for detectors: accuracy, F1, AUROC and pairwise accuracy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BinaryMetrics:
    """Detector quality on labelled items (positive = hallucinated)."""

    accuracy: float
    f1: float
    auroc: float
    n: int


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties); 0.5 is chance."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs both positive and negative labels")
    from scipy import stats  # imported when used: scipy takes ~1 s to import (CLI and API start-up)

    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pairwise_accuracy(scores: np.ndarray) -> float:
    """Share of pairs whose hallucinated answer scores above its faithful twin, ties half;
    ``scores`` alternate faithful, hallucinated (one pair per two items)."""
    scores = np.asarray(scores, dtype=float)
    faithful, hallucinated = scores[0::2], scores[1::2]
    return float(np.mean((hallucinated > faithful) + 0.5 * (hallucinated == faithful)))


def binary_metrics(scores: np.ndarray, labels: np.ndarray, threshold: float) -> BinaryMetrics:
    """Accuracy and F1 of ``scores >= threshold`` against ``labels``, and the scores' AUROC."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    predicted = scores >= threshold
    tp = int(np.sum(predicted & labels))
    fp = int(np.sum(predicted & ~labels))
    fn = int(np.sum(~predicted & labels))
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return BinaryMetrics(
        accuracy=float(np.mean(predicted == labels)),
        f1=f1,
        auroc=auroc(scores, labels),
        n=int(labels.size),
    )


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The threshold maximising accuracy (midpoint between neighbouring distinct scores)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    distinct = np.unique(scores)
    candidates = np.concatenate(
        [[distinct[0] - 1e-9], (distinct[1:] + distinct[:-1]) / 2, [distinct[-1] + 1e-9]]
    )
    # accuracy of every candidate at once: (n_candidates, n_items) comparison
    accuracy = np.mean((scores[None, :] >= candidates[:, None]) == labels[None, :], axis=1)
    return float(candidates[int(np.argmax(accuracy))])


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared difference between the probabilities and the 0/1 labels (0 is perfect)."""
    p, y = np.asarray(probabilities, dtype=float), np.asarray(labels, dtype=float)
    return float(np.mean((p - y) ** 2))


def log_loss(probabilities: np.ndarray, labels: np.ndarray, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood of the 0/1 labels, probabilities clipped to [eps, 1-eps]."""
    p = np.clip(np.asarray(probabilities, dtype=float), eps, 1 - eps)
    y = np.asarray(labels, dtype=bool)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def probability_figures(
    probabilities: np.ndarray, predicted: np.ndarray, labels: np.ndarray
) -> dict[str, float | int | None]:
    """How well probabilities and the decisions taken from them match labels: ``n``,
    ``accuracy`` of ``predicted``, ``brier``, ``log_loss``, and ``auroc`` (None unless both
    classes are present)."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=bool)
    both = bool(y.any() and (~y).any())
    return {
        "n": int(y.size),
        "accuracy": float(np.mean(np.asarray(predicted, dtype=bool) == y)) if y.size else None,
        "brier": brier_score(p, y) if y.size else None,
        "log_loss": log_loss(p, y) if y.size else None,
        "auroc": auroc(p, y) if both else None,
    }
