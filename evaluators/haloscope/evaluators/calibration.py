"""Calibration of detector scores: Platt scaling (logistic regression) and a decision threshold.

Fitted on a labelled set, stored as JSON next to the evaluator version it belongs to
(``calibration/<name>-<version>.json``) and loaded by the evaluator.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from haloscope.evaluators.metrics import best_threshold, probability_figures

CALIBRATION_DIR = Path(__file__).parent / "calibration"
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def fit_logistic(
    features: np.ndarray, labels: np.ndarray, l2: float = 1e-3
) -> tuple[np.ndarray, float]:
    """Weights and intercept of an L2-regularised logistic regression (L-BFGS).

    Labels are smoothed as in Platt (1999) so separable data gives finite weights.
    """
    from scipy import (
        optimize,
        special,
    )  # imported when used: scipy takes ~1 s to import (CLI and API start-up)

    x = np.asarray(features, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("calibration needs both positive and negative labels")
    target = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ params[:-1] + params[-1]
        p = special.expit(z)
        nll = np.sum(np.logaddexp(0, z) - target * z) + l2 * np.sum(params[:-1] ** 2)
        grad_z = p - target
        grad = np.append(x.T @ grad_z + 2 * l2 * params[:-1], grad_z.sum())
        return float(nll), grad

    start = np.zeros(x.shape[1] + 1)
    result = optimize.minimize(loss, start, jac=True, method="L-BFGS-B")
    return result.x[:-1], float(result.x[-1])


@dataclass(frozen=True)
class Calibration:
    """Maps a raw detector probability to a calibrated one, and labels it at ``threshold``.

    ``p = sigmoid(slope * logit(raw) + intercept)``; ``meta`` records what it was fitted on.
    """

    slope: float = 1.0
    intercept: float = 0.0
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def probability(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw ones."""
        from scipy import (
            special,
        )  # imported when used: scipy takes ~1 s to import (CLI and API start-up)

        return special.expit(self.slope * logit(raw) + self.intercept)

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        """Read a calibration written by :meth:`save`."""
        data = json.loads(path.read_text())
        return cls(
            slope=float(data["slope"]),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            meta=dict(data.get("meta", {})),
        )


def fit_calibration(raw: np.ndarray, labels: np.ndarray, **meta: Any) -> Calibration:
    """Platt-scale ``raw`` probabilities against ``labels`` and pick the accuracy-best threshold."""
    weights, intercept = fit_logistic(logit(raw), labels)
    fitted = Calibration(float(weights[0]), intercept, 0.5, meta)
    threshold = best_threshold(fitted.probability(raw), labels)
    return Calibration(fitted.slope, fitted.intercept, threshold, meta)


def stratified_holdout(labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A mask of the items held back: ``round(share * count)`` of each class (at least one,
    never all), drawn by a permutation seeded with ``seed``, so the same items in the same
    order give the same split."""
    y = np.asarray(labels, dtype=bool)
    if not 0 < share < 1:
        raise ValueError(f"the held-back share must be in (0, 1), got {share}")
    rng = np.random.default_rng(seed)
    held = np.zeros(y.size, dtype=bool)
    for cls in (True, False):
        members = np.flatnonzero(y == cls)
        if members.size < 2:
            raise ValueError("each class needs at least two labelled items to hold one back")
        count = min(max(1, round(share * members.size)), members.size - 1)
        held[rng.permutation(members)[:count]] = True
    return held


@dataclass(frozen=True)
class HoldoutFit:
    """A calibration fitted on ``fitted_on`` items, and the figures of the ``held_back`` ones
    (see :func:`~haloscope.evaluators.metrics.probability_figures`) before and after it."""

    calibration: Calibration
    before: dict[str, Any]
    after: dict[str, Any]
    fitted_on: int
    held_back: int


def fit_with_holdout(
    raw: np.ndarray,
    own_predicted: np.ndarray,
    labels: np.ndarray,
    *,
    holdout: float = 0.3,
    seed: int = 0,
    **meta: Any,
) -> HoldoutFit:
    """Platt-scale ``raw`` probabilities (feature: their logit) against ``labels`` on the items
    a stratified ``holdout`` share leaves, and measure the held-back items before (``raw`` with
    the evaluator's own decisions ``own_predicted``) and after (the calibrated probabilities,
    decided at the fitted threshold)."""
    raw = np.asarray(raw, dtype=float)
    labels = np.asarray(labels, dtype=bool)
    held = stratified_holdout(labels, holdout, seed)
    fitted = fit_calibration(raw[~held], labels[~held], **meta)
    calibrated = fitted.probability(raw[held])
    before = probability_figures(
        raw[held], np.asarray(own_predicted, dtype=bool)[held], labels[held]
    )
    after = probability_figures(calibrated, calibrated >= fitted.threshold, labels[held])
    return HoldoutFit(fitted, before, after, int((~held).sum()), int(held.sum()))


def calibration_path(name: str, version: str) -> Path:
    """Where the calibration of evaluator ``name`` at ``version`` is stored."""
    return CALIBRATION_DIR / f"{name}-{version}.json"


def load_calibration(name: str, version: str) -> Calibration | None:
    """The stored calibration of an evaluator version, or None when none was fitted."""
    path = calibration_path(name, version)
    return Calibration.load(path) if path.exists() else None
