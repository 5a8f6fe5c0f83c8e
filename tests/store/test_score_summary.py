"""The Evaluations page's score summary on both drivers, over a mix of judge, numeric, boolean,
categorical and deleted scores: numbers alone make the mean, range and histogram (a category,
stored with value 0, never counts as a 0), booleans are a share of true, categories are counted
per category, and deleted scores count nowhere. The trace list's per-trace scores likewise
show a categorical score's categories, not a mean of its stored 0."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from haloscope.platform.store import TraceStore
from haloscope.platform.store.dashboard_queries import MAX_SUMMARY_CATEGORIES
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore

NOW_US = 1_750_000_000_000_000
HOUR_US = 3_600_000_000


def api_score(project_id: str, n: int, name: str, value: Any) -> dict[str, Any]:
    """A score row as POST /api/v1/scores writes it (see scores/submission.py)."""
    if isinstance(value, bool):
        kind, number, text = "boolean", float(value), str(value).lower()
    elif isinstance(value, str):
        kind, number, text = "categorical", 0.0, value
    else:
        kind, number, text = "numeric", float(value), ""
    return {
        "project_id": project_id,
        "trace_id": f"{n:032x}",
        "span_id": "",
        "timestamp": NOW_US - HOUR_US + n,
        "name": name,
        "value": number,
        "source": "annotation",
        "score_id": uuid.uuid4().hex,
        "value_type": kind,
        "string_value": text,
        "author": "ann",
    }


def judge_score(project_id: str, n: int, value: float, label: str) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "trace_id": f"{n:032x}",
        "span_id": f"{n:016x}",
        "timestamp": NOW_US - HOUR_US + n,
        "name": "hallucination.rag",
        "evaluator_version": "v2",
        "value": value,
        "label": label,
        "source": "judge",
    }


def summary_of(store: TraceStore, project_id: str) -> dict[str, dict[str, Any]]:
    rows = store.score_summary(project_id, NOW_US - 2 * HOUR_US, NOW_US)
    return {row["name"]: row for row in rows}


def test_each_value_type_is_summarised_by_its_kind_and_deleted_scores_are_skipped(
    trace_store: TraceStore, project_id: str
) -> None:
    store = trace_store
    rows = [
        judge_score(project_id, 1, 0.05, "faithful"),
        judge_score(project_id, 2, 0.92, "hallucinated"),
        judge_score(project_id, 3, 0.55, ""),
        api_score(project_id, 10, "stars", 0.2),
        api_score(project_id, 11, "stars", 0.4),
        api_score(project_id, 12, "stars", 0.9),  # deleted below
        api_score(project_id, 20, "helpful", True),
        api_score(project_id, 21, "helpful", True),
        api_score(project_id, 22, "helpful", False),
        api_score(project_id, 23, "helpful", False),  # deleted below
        api_score(project_id, 30, "tone", "polite"),
        api_score(project_id, 31, "tone", "polite"),
        api_score(project_id, 32, "tone", "rude"),
        api_score(project_id, 33, "tone", "curt"),  # deleted below
        # A name holding two kinds: the number alone is its mean; the category is counted.
        api_score(project_id, 40, "mixed", 0.75),
        api_score(project_id, 41, "mixed", "n/a"),
        api_score(project_id, 50, "withdrawn", "gone"),  # deleted below: the name disappears
    ]
    store.insert_scores(rows)
    scores = ScoreStore(store.driver)
    for row in (rows[5], rows[9], rows[13], rows[-1]):
        assert scores.delete(project_id, row["score_id"], "pk-test") is not None
    assert len(scores.list(project_id, ScoreFilter(deleted=True), limit=10).rows) == 4

    summary = summary_of(store, project_id)
    assert sorted(summary) == ["hallucination.rag", "helpful", "mixed", "stars", "tone"]

    judge = summary["hallucination.rag"]
    assert judge["value_types"] == ["numeric"] and judge["scores"] == 3
    assert judge["mean_value"] == pytest.approx((0.05 + 0.92 + 0.55) / 3)
    assert (judge["min_value"], judge["max_value"], judge["labelled"]) == (0.05, 0.92, 2)
    assert judge["histogram"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert judge["categories"] == [] and judge["share_true"] is None

    stars = summary["stars"]
    assert stars["scores"] == stars["numeric_scores"] == 2
    assert stars["mean_value"] == pytest.approx(0.3) and stars["max_value"] == 0.4
    assert stars["histogram"] == [0, 0, 1, 0, 1, 0, 0, 0, 0, 0]

    helpful = summary["helpful"]
    assert helpful["value_types"] == ["boolean"] and helpful["numeric_scores"] == 0
    assert helpful["mean_value"] is None and helpful["min_value"] is None
    assert helpful["histogram"] == [0] * 10
    assert (helpful["boolean_scores"], helpful["true_scores"]) == (3, 2)
    assert helpful["share_true"] == pytest.approx(2 / 3)

    tone = summary["tone"]
    assert tone["value_types"] == ["categorical"] and tone["scores"] == 3
    assert tone["mean_value"] is None and tone["histogram"] == [0] * 10
    assert tone["categories"] == [
        {"category": "polite", "scores": 2},
        {"category": "rude", "scores": 1},
    ]
    assert tone["other_categories"] == 0

    mixed = summary["mixed"]
    assert mixed["value_types"] == ["numeric", "categorical"] and mixed["scores"] == 2
    assert mixed["mean_value"] == 0.75 and mixed["histogram"][7] == 1
    assert mixed["categories"] == [{"category": "n/a", "scores": 1}]


def test_rare_categories_beyond_the_listed_ones_are_counted_together(
    trace_store: TraceStore, project_id: str
) -> None:
    store = trace_store
    extra = 3
    rows = [
        api_score(project_id, n, "topic", f"topic-{n:02d}")
        for n in range(MAX_SUMMARY_CATEGORIES + extra)
    ]
    rows += [api_score(project_id, 100 + n, "topic", "billing") for n in range(5)]
    store.insert_scores(rows)
    (topic,) = store.score_summary(project_id, NOW_US - 2 * HOUR_US, NOW_US)
    assert len(topic["categories"]) == MAX_SUMMARY_CATEGORIES
    assert topic["categories"][0] == {"category": "billing", "scores": 5}
    assert topic["categories"][1] == {"category": "topic-00", "scores": 1}
    assert topic["other_categories"] == extra + 1
    assert topic["categorical_scores"] == MAX_SUMMARY_CATEGORIES + extra + 5


def test_the_trace_lists_scores_average_numbers_and_name_categories(
    trace_store: TraceStore, project_id: str
) -> None:
    rows = [
        api_score(project_id, 1, "stars", 0.2),
        api_score(project_id, 1, "stars", 0.6),
        api_score(project_id, 1, "helpful", True),
        api_score(project_id, 1, "helpful", False),
        api_score(project_id, 1, "helpful", True),
        api_score(project_id, 1, "tone", "rude"),
        api_score(project_id, 1, "tone", "polite"),
        api_score(project_id, 1, "tone", "polite"),
        api_score(project_id, 1, "gone", "deleted"),
        judge_score(project_id, 1, 0.9, "hallucinated"),
    ]
    trace_store.insert_scores(rows)
    ScoreStore(trace_store.driver).delete(project_id, rows[8]["score_id"], "pk-test")
    (trace_id,) = {row["trace_id"] for row in rows}
    shown = trace_store.scores_by_trace(project_id, [trace_id])[trace_id]
    assert shown == {
        "stars": pytest.approx(0.4),
        "helpful": pytest.approx(2 / 3),
        "tone": "polite, rude",
        "hallucination.rag": 0.9,
    }
