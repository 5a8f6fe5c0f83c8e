"""Quality cards measured on a dataset with expected verdicts (``measure_evaluator``): exact
figures from a deterministic evaluator, and the mechanics through the real default judge."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from haloscope.evaluators import EvalInput
from haloscope.evaluators.base import Evaluator, Outcome
from haloscope.evaluators.custom_judge import builtin_templates, create_custom_judge
from haloscope.evaluators.quality import QualityCard, expected_verdict, measure_evaluator


class TableJudge(Evaluator):
    """Scores each item with the number in its output; "fail" fails the item."""

    name = "table"
    version = "7"
    description = "scores read from the item"
    requires = ("output",)
    binary_labels = ("ok", "bad")
    threshold = 0.5

    def score_batch(self, items: Sequence[EvalInput]) -> list[Outcome]:
        outcomes = []
        for item in items:
            if item.output == "fail":
                outcomes.append(Outcome(None, None, error="cannot score"))
                continue
            score = float(item.output)
            outcomes.append(Outcome(score, "bad" if score >= self.threshold else "ok"))
        return outcomes


def test_figures_are_exact_on_a_hand_made_dataset() -> None:
    # scores and expected verdicts (True = "bad", the positive label)
    rows = [("0.9", True), ("0.8", False), ("0.7", True), ("0.4", True), ("0.2", False),
            ("0.1", False), ("fail", True)]  # fmt: skip
    items = [EvalInput(output=score) for score, _ in rows]
    card = measure_evaluator(
        TableJudge(), items, [e for _, e in rows], "hand", "hand.jsonl", "ab" * 32, {"m": 1}
    )
    assert (card.name, card.version, card.meta) == ("table", "7", {"m": 1})
    (slice_card,) = card.slices.values()
    assert (slice_card.rows, slice_card.failed, slice_card.data) == (7, 1, "hand.jsonl")
    fig = slice_card.figures
    # positives 0.9, 0.7, 0.4 vs negatives 0.8, 0.2, 0.1: 7 of 9 pairs ordered right
    assert fig.auroc == round(7 / 9, 4)
    # labels at 0.5: bad, bad, bad, ok, ok, ok -> 4 of 6 agree; 3 of 6 flagged
    assert fig.label_accuracy == round(4 / 6, 4) and fig.flag_rate == 0.5
    # the best threshold (0.3: 0.9 0.8 0.7 0.4 flagged) gets 5 of 6
    assert fig.best_accuracy == round(5 / 6, 4)
    brier = ((0.9 - 1) ** 2 + 0.8**2 + (0.7 - 1) ** 2 + (0.4 - 1) ** 2 + 0.2**2 + 0.1**2) / 6
    assert fig.brier == round(brier, 4) and fig.pairwise is None
    assert QualityCard.from_dict(card.as_dict()) == card  # the stored form reads back
    with pytest.raises(ValueError, match="need both expected verdicts"):
        measure_evaluator(TableJudge(), items[:2], [True, True], "one-class")


def test_expected_verdicts_read_labels_booleans_and_numbers() -> None:
    labels = ("correct", "incorrect")
    assert [expected_verdict(v, labels) for v in ("incorrect", "correct", True, 0, "false")] == [
        True, False, True, False, False,
    ]  # fmt: skip
    # the labels win over the words: positive "No" (labels: Yes negative, No positive)
    assert expected_verdict("No", ("Yes", "No")) and not expected_verdict("Yes", ("Yes", "No"))
    with pytest.raises(ValueError, match="'maybe' is none of 'correct', 'incorrect'"):
        expected_verdict("maybe", labels)


def test_a_custom_judge_on_the_real_default_judge_gets_a_card(judge_resources) -> None:
    judge = create_custom_judge(builtin_templates()["answer_correctness"], 2, judge_resources)
    question, reference = "What is the capital of France?", "Paris"
    items = [
        EvalInput(input=question, output=answer, reference=reference)
        for answer in ("Paris.", "Lyon.", "It is Paris.", "Marseille.")
    ]
    card = measure_evaluator(judge, items, [False, True, False, True], "capitals")
    fig = card.slices["capitals"].figures
    assert (card.name, card.version, card.slices["capitals"].failed) == (
        "custom:answer_correctness", "2", 0,
    )  # fmt: skip
    assert 0 <= fig.auroc <= 1 and 0 <= fig.brier <= 1 and fig.answers_per_s > 0
    assert fig.label_accuracy in (0, 0.25, 0.5, 0.75, 1)
