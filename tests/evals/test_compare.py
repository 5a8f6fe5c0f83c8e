"""The item-by-item comparison without a server: every badge is the gate's rule
(``scoring.item_change``) for every kind of score pair, including missing scores and items of
one run only; filters and orders; the word diff rebuilds both texts."""

from __future__ import annotations

import itertools
import random

import pytest
from haloscope.platform.evals.compare import (
    TAG_SEPARATOR,
    CompareQuery,
    ScoreTable,
    run_metrics,
    select,
    word_diff,
)
from haloscope.platform.evals.scoring import REGRESSED, item_change

SUMMARY = {
    "passed": {"value": 0.5, "aggregate": "pass_rate", "pass_threshold": 0.5},
    "score": {"value": 0.5, "aggregate": "mean"},
    "toxicity": {"value": 0.5, "aggregate": "mean", "higher_is_better": False},
}
RUNS = [
    {"run_id": "base", "summary": SUMMARY},
    {"run_id": "cand", "summary": SUMMARY},
    {"run_id": "only-score", "summary": {"score": SUMMARY["score"]}},
]
VALUES = (None, 0.0, 0.2, 0.5, 0.7, 1.0)


def _columns(scores: dict[str, dict[str, list[float | None]]]) -> dict[str, list]:
    """``run_scores``' arrays for per-run, per-item scores (aligned with the three metrics)."""
    columns: dict[str, list] = {"run_ids": [], "item_ids": [], "positions": [], "tags": [],
                                "scores": []}  # fmt: skip
    for run_id, items in scores.items():
        for item_id, values in items.items():
            n = int(item_id[1:])
            columns["run_ids"].append(run_id)
            columns["item_ids"].append(item_id)
            columns["positions"].append(n)
            columns["tags"].append(TAG_SEPARATOR.join(["even" if n % 2 == 0 else "odd", "all"]))
            columns["scores"].extend(values)
    return columns


@pytest.fixture
def table() -> tuple[ScoreTable, dict[str, dict[str, list[float | None]]]]:
    rng = random.Random(7)
    pairs = list(itertools.product(VALUES, VALUES))
    base, cand, other = {}, {}, {}
    for n, (b, c) in enumerate(pairs * 3):
        item = f"i{n}"
        base[item] = [b, rng.choice(VALUES), rng.choice(VALUES)]
        cand[item] = [c, rng.choice(VALUES), rng.choice(VALUES)]
        if n % 5:
            other[item] = [None, rng.choice(VALUES), None]
    del base["i3"]  # an item only the candidates have
    cand["i999"] = [1.0, 1.0, 1.0]  # and one only the candidate has
    scores = {"base": base, "cand": cand, "only-score": other}
    metrics = run_metrics(RUNS)
    return ScoreTable.of(RUNS, metrics, _columns(scores)), scores


def test_every_badge_is_the_gates_item_change(table: tuple) -> None:
    scores_table, scores = table
    metrics = {m.name: (i, m) for i, m in enumerate(scores_table.metrics)}
    assert [m.name for m in scores_table.metrics] == ["passed", "score", "toxicity"]
    # The third run measured "score" only: it is compared on that metric alone.
    assert scores_table.pairs == [("cand", 0), ("cand", 1), ("cand", 2), ("only-score", 1)]
    for (run_id, i), k in zip(scores_table.pairs, range(len(scores_table.pairs)), strict=True):
        metric = scores_table.metrics[i]
        expected = {"improved": 0, "regressed": 0, "unchanged": 0}
        for index, item_id in enumerate(scores_table.item_ids):
            base, cand = scores["base"].get(item_id), scores[run_id].get(item_id)
            delta = scores_table.deltas[k, index]
            if base is None or cand is None:
                assert delta != delta, (run_id, item_id)  # NaN: not paired
                continue
            change = item_change(metric, base[i], cand[i])
            expected[change] += 1
            assert (delta > 0, delta < 0) == (change == "improved", change == REGRESSED)
        counts = scores_table.counts[(run_id, metric.name)]
        assert (counts.improved, counts.regressed, counts.unchanged) == (
            expected["improved"], expected["regressed"], expected["unchanged"],
        )  # fmt: skip
    assert metrics["toxicity"][1].higher_is_better is False


def test_filters_and_orders_follow_the_changes(table: tuple) -> None:
    scores_table, scores = table
    everything, regressed, key = select(scores_table, CompareQuery())
    positions = [scores_table.positions[i] for i in everything]
    assert positions == sorted(positions) and len(everything) == len(scores_table.item_ids)
    kept, _, _ = select(scores_table, CompareQuery(regressed_only=True, metric="passed"))
    expected = [
        item_id
        for item_id in scores_table.item_ids
        if item_id in scores["base"]
        and item_id in scores["cand"]
        and item_change(
            scores_table.metrics[0], scores["base"][item_id][0], scores["cand"][item_id][0]
        )
        == REGRESSED
    ]
    assert [scores_table.item_ids[i] for i in kept] == expected
    worst, _, key = select(scores_table, CompareQuery(sort="regressed"))
    assert list(key[worst]) == sorted(key[worst])
    best, _, key = select(scores_table, CompareQuery(sort="improved", tag="even"))
    assert all(scores_table.positions[i] % 2 == 0 for i in best)
    assert list(key[best]) == sorted(key[best], reverse=True)
    assert scores_table.all_tags() == ["all", "even", "odd"]
    assert scores_table.tags_of(int(best[0])) == ("even", "all")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("The answer is 30 days.", "The answer is 60 days, sadly."),
        ("", "new text"),
        ("same  spacing\n\nkept", "same  spacing\n\nkept"),
        ("<b>bold</b> & more", "<i>bold</i> & less"),
    ],
)
def test_the_word_diff_rebuilds_both_texts(before: str, after: str) -> None:
    segments = word_diff(before, after)
    assert segments is not None
    assert "".join(t for op, t in segments if op != "insert") == before
    assert "".join(t for op, t in segments if op != "delete") == after
    assert word_diff("word " * 5000, "other") is None
