"""Agreement of a judge with people on binary labels: the confusion matrix, accuracy, Cohen's
kappa, and percentile bootstrap intervals for both.

Positive is the class the judge's score is the probability of (hallucinated, for the
hallucination detectors). With the 2x2 counts ``tp`` (judge and people positive), ``fp``
(judge positive, people negative), ``fn`` and ``tn`` over ``n`` items:

* accuracy ``p_o = (tp + tn) / n``;
* chance agreement ``p_e = ((tp + fp)(tp + fn) + (fn + tn)(fp + tn)) / n²`` (each rater's own
  positive rate, as if independent);
* Cohen's kappa ``(p_o - p_e) / (1 - p_e)``: 1 for perfect agreement, 0 for chance; undefined
  (None) when ``p_e = 1`` (both raters give one and the same class to every item).

The bootstrap resamples the items with replacement. Accuracy and kappa depend on the items only
through the four counts, so a resample of ``n`` items is one multinomial draw of the counts
with the observed cell shares: all resamples come from one numpy call, in memory independent
of ``n``. A resample whose kappa is undefined is left out of kappa's interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_SAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class Confusion:
    """The judge (rows) x people (columns) counts; positive = the judge's scored class."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        """Items counted."""
        return self.tp + self.fp + self.fn + self.tn

    @property
    def accuracy(self) -> float | None:
        """Share of items where the judge and people agree (None without items)."""
        return (self.tp + self.tn) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        """Cohen's kappa, None when undefined (no items, or chance agreement is 1)."""
        value = _kappa_array(np.array([[self.tp, self.fp, self.fn, self.tn]], dtype=float))[0]
        return None if np.isnan(value) else float(value)


@dataclass(frozen=True)
class Estimate:
    """A figure with its bootstrap interval; None where it is undefined."""

    value: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Agreement:
    """Judge-people agreement on ``confusion.n`` items, with ``confidence`` intervals from
    ``samples`` bootstrap resamples drawn with ``seed``."""

    confusion: Confusion
    accuracy: Estimate
    kappa: Estimate
    samples: int
    confidence: float
    seed: int


def confusion_matrix(judge: np.ndarray, people: np.ndarray) -> Confusion:
    """The counts of two equally long boolean sequences (True = positive)."""
    judge, people = np.asarray(judge, dtype=bool), np.asarray(people, dtype=bool)
    if judge.shape != people.shape or judge.ndim != 1:
        raise ValueError("judge and people must be 1-D sequences of equal length")
    return Confusion(
        tp=int(np.sum(judge & people)),
        fp=int(np.sum(judge & ~people)),
        fn=int(np.sum(~judge & people)),
        tn=int(np.sum(~judge & ~people)),
    )


def _kappa_array(cells: np.ndarray) -> np.ndarray:
    """Kappa of each row of ``cells`` (tp, fp, fn, tn) as floats, NaN where undefined."""
    tp, fp, fn, tn = cells.T
    n = cells.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (tp + tn) / n
        chance = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
        kappa = (observed - chance) / (1 - chance)
    undefined = (n == 0) | np.isclose(chance, 1.0, rtol=0.0, atol=1e-12)
    return np.where(undefined, np.nan, kappa)


def _interval(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return None, None
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(kept, [tail, 100 - tail])
    return float(low), float(high)


def agreement(
    judge: np.ndarray,
    people: np.ndarray,
    *,
    samples: int = DEFAULT_SAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
) -> Agreement:
    """Accuracy and Cohen's kappa of ``judge`` against ``people`` (booleans, True =
    positive) with percentile bootstrap intervals (no intervals without items)."""
    if samples < 1 or not 0 < confidence < 1:
        raise ValueError("samples must be >= 1 and confidence in (0, 1)")
    counts = confusion_matrix(judge, people)
    accuracy, kappa = counts.accuracy, counts.kappa
    if counts.n == 0:
        return Agreement(
            counts,
            Estimate(None, None, None),
            Estimate(None, None, None),
            samples,
            confidence,
            seed,
        )
    observed = np.array([counts.tp, counts.fp, counts.fn, counts.tn], dtype=float)
    rng = np.random.default_rng(seed)
    cells = rng.multinomial(counts.n, observed / counts.n, size=samples).astype(float)
    accuracies = (cells[:, 0] + cells[:, 3]) / counts.n
    return Agreement(
        counts,
        Estimate(accuracy, *_interval(accuracies, confidence)),
        Estimate(kappa, *_interval(_kappa_array(cells), confidence)),
        samples,
        confidence,
        seed,
    )
