"""Judge-human agreement statistics (confusion matrix, accuracy, Cohen's kappa, the bootstrap)
and the figures of a recalibration (Brier, log loss, held-back split), on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from haloscope.evaluators.agreement import Confusion, agreement, confusion_matrix
from haloscope.evaluators.calibration import fit_with_holdout, stratified_holdout
from haloscope.evaluators.metrics import brier_score, log_loss, probability_figures


def _pairs(tp: int, fp: int, fn: int, tn: int) -> tuple[np.ndarray, np.ndarray]:
    judge = [True] * (tp + fp) + [False] * (fn + tn)
    people = [True] * tp + [False] * fp + [True] * fn + [False] * tn
    return np.array(judge), np.array(people)


def test_confusion_matrix_counts_judge_rows_against_people_columns() -> None:
    judge = np.array([True, True, False, False, True])
    people = np.array([True, False, True, False, True])
    assert confusion_matrix(judge, people) == Confusion(tp=2, fp=1, fn=1, tn=1)
    with pytest.raises(ValueError, match="equal length"):
        confusion_matrix(judge, people[:3])


@pytest.mark.parametrize(
    ("cells", "accuracy", "kappa"),
    [
        # Two raters on 50 items (the textbook example): p_o = 35/50 = 0.7; the judge says
        # yes to 25, people to 30: p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa = 0.2 / 0.5.
        ((20, 5, 10, 15), 0.7, 0.4),
        # Agreement on 8 of 10, each rater positive on 5: p_e = 0.5, kappa = 0.3 / 0.5.
        ((4, 1, 1, 4), 0.8, 0.6),
        # A judge that always says positive agrees only by chance: p_o = p_e = 0.6.
        ((6, 4, 0, 0), 0.6, 0.0),
        # Complete disagreement, balanced: p_o = 0, p_e = 0.5, kappa = -1.
        ((0, 5, 5, 0), 0.0, -1.0),
        # Perfect agreement with both classes present.
        ((3, 0, 0, 7), 1.0, 1.0),
    ],
)
def test_accuracy_and_kappa_match_hand_computed_values(
    cells: tuple[int, int, int, int], accuracy: float, kappa: float
) -> None:
    counts = Confusion(*cells)
    assert counts.accuracy == pytest.approx(accuracy)
    assert counts.kappa == pytest.approx(kappa)
    result = agreement(*_pairs(*cells))
    assert result.confusion == counts
    assert result.accuracy.value == pytest.approx(accuracy)
    assert result.kappa.value == pytest.approx(kappa)


def test_kappa_is_undefined_when_both_raters_give_one_class_to_everything() -> None:
    counts = Confusion(tp=0, fp=0, fn=0, tn=9)
    assert counts.accuracy == 1.0 and counts.kappa is None
    result = agreement(*_pairs(0, 0, 0, 9))
    assert result.kappa.value is None and result.kappa.low is None
    assert result.accuracy.low == result.accuracy.high == 1.0


def test_no_items_gives_no_figures() -> None:
    result = agreement(np.array([], dtype=bool), np.array([], dtype=bool))
    assert result.confusion.n == 0
    assert (result.accuracy.value, result.accuracy.low, result.kappa.value) == (None, None, None)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    judge, people = _pairs(40, 8, 12, 40)
    first = agreement(judge, people, samples=1000, seed=3)
    assert first == agreement(judge, people, samples=1000, seed=3)
    assert first != agreement(judge, people, samples=1000, seed=4)
    for estimate in (first.accuracy, first.kappa):
        assert estimate.low is not None and estimate.high is not None
        assert estimate.low <= estimate.value <= estimate.high
    narrow = agreement(*_pairs(400, 80, 120, 400), samples=1000, seed=3)
    assert narrow.accuracy.value == pytest.approx(first.accuracy.value)
    wide_width = first.accuracy.high - first.accuracy.low
    assert narrow.accuracy.high - narrow.accuracy.low < wide_width / 2


def test_the_multinomial_bootstrap_matches_resampling_items() -> None:
    """The counts-only shortcut gives the interval that resampling the items themselves does."""
    judge, people = _pairs(30, 6, 9, 25)
    fast = agreement(judge, people, samples=20_000, seed=1)
    rng = np.random.default_rng(2)
    idx = rng.integers(0, judge.size, size=(20_000, judge.size))
    j, p = judge[idx], people[idx]
    accuracies = np.mean(j == p, axis=1)
    observed = accuracies
    pj, pp = j.mean(axis=1), p.mean(axis=1)
    chance = pj * pp + (1 - pj) * (1 - pp)
    kappas = (observed - chance) / (1 - chance)
    for estimate, values in ((fast.accuracy, accuracies), (fast.kappa, kappas)):
        low, high = np.percentile(values, [2.5, 97.5])
        assert estimate.low == pytest.approx(low, abs=0.02)
        assert estimate.high == pytest.approx(high, abs=0.02)


def test_brier_score_and_log_loss_by_hand() -> None:
    p, y = np.array([0.9, 0.2]), np.array([True, False])
    assert brier_score(p, y) == pytest.approx((0.1**2 + 0.2**2) / 2)
    assert log_loss(p, y) == pytest.approx(-(math.log(0.9) + math.log(0.8)) / 2)
    assert log_loss(np.array([1.0]), np.array([False])) == pytest.approx(-math.log(1e-15), rel=1e-4)
    figures = probability_figures(p, p >= 0.5, y)
    assert figures == {
        "n": 2,
        "accuracy": 1.0,
        "brier": pytest.approx(0.025),
        "log_loss": pytest.approx(0.164252, abs=1e-6),
        "auroc": 1.0,
    }
    assert probability_figures(p[:1], p[:1] >= 0.5, y[:1])["auroc"] is None


def test_stratified_holdout_holds_back_a_seeded_share_of_each_class() -> None:
    labels = np.array([True] * 20 + [False] * 10)
    held = stratified_holdout(labels, 0.3, seed=5)
    assert int(held[labels].sum()) == 6 and int(held[~labels].sum()) == 3
    assert np.array_equal(held, stratified_holdout(labels, 0.3, seed=5))
    assert not np.array_equal(held, stratified_holdout(labels, 0.3, seed=6))
    # at least one of each class held back, never all of a class
    tiny = stratified_holdout(np.array([True, True, False, False]), 0.01, seed=0)
    assert int(tiny[:2].sum()) == 1 and int(tiny[2:].sum()) == 1
    with pytest.raises(ValueError, match="at least two"):
        stratified_holdout(np.array([True, False, False]), 0.3, seed=0)
    with pytest.raises(ValueError, match="share"):
        stratified_holdout(labels, 1.0, seed=0)


def test_recalibrating_an_overconfident_judge_lowers_the_held_back_brier_score() -> None:
    """The judge says 0.95 or 0.05, but it is right only 70% of the time: Platt scaling pulls
    its probabilities toward 0.7/0.3, which the held-back items score better."""
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.5
    right = rng.random(400) < 0.7
    says_positive = np.where(right, labels, ~labels)
    raw = np.where(says_positive, 0.95, 0.05)
    fit = fit_with_holdout(raw, says_positive, labels, holdout=0.3, seed=0)
    assert (fit.fitted_on, fit.held_back) == (280, 120)
    assert fit.before["brier"] > 0.2 and fit.after["brier"] < fit.before["brier"] - 0.03
    assert fit.after["log_loss"] < fit.before["log_loss"]
    assert fit.after["accuracy"] == pytest.approx(fit.before["accuracy"])
    calibrated = fit.calibration.probability(np.array([0.95, 0.05]))
    assert calibrated[0] == pytest.approx(0.7, abs=0.08) and calibrated[1] == pytest.approx(
        0.3, abs=0.08
    )
