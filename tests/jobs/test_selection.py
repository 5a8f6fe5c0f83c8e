"""A rule's filters and sample size select exactly the intended spans (real chDB)."""

from __future__ import annotations

import pytest
from haloscope.platform.jobs.rules import RuleError, normalize_filters
from haloscope.platform.jobs.selection import SampleRequest, draw_sample
from haloscope.platform.store import TraceStore

from tests.jobs.conftest import HOUR_US, rag_trace

KEYS = ("hallucination.rag@1",)


def _request(project_id: str, now_us: int, filters: dict, **changes) -> SampleRequest:
    values = {
        "project_id": project_id,
        "filters": normalize_filters(filters),
        "start_us": now_us - 24 * HOUR_US,
        "end_us": now_us,
        "sample_rate": 1.0,
        "per_day": None,
        "cap": 10_000,
        "seed": 7,
        "evaluator_keys": KEYS,
    }
    return SampleRequest(**(values | changes))


@pytest.fixture
def seeded(chdb_store: TraceStore, project_id: str, now_us: int) -> dict[str, str]:
    """Spans that differ in one attribute each; returns label -> span id of the LLM span."""
    variants = {
        "plain": {},
        "other_name": {"name": "summarise"},
        "other_model": {"model": "llama-3"},
        "tagged": {"tags": ["prod", "rag"]},
        "half_tagged": {"tags": ["prod"]},
        "release": {"release": "v2"},
        "metadata": {"metadata": {"app": "faq", "tier": "gold"}},
        "metadata_other": {"metadata": {"app": "faq", "tier": "free"}},
        "error_with_output": {"status": "error", "name": "flaky"},
    }
    ids, rows = {}, []
    for position, (label, overrides) in enumerate(variants.items()):
        trace = rag_trace(
            project_id, now_us - (position + 1) * HOUR_US, "Paris.", "Paris.", **overrides
        )
        ids[label] = trace[1]["span_id"]
        ids[f"{label}:retrieval"] = trace[0]["span_id"]
        rows += trace
    old = rag_trace(project_id, now_us - 30 * HOUR_US, "Paris.", "Paris.")
    ids["too_old"] = old[1]["span_id"]
    failed = rag_trace(project_id, now_us - 2 * HOUR_US, "", "Paris.", status="error")
    failed[1]["output"] = ""
    ids["failed_call"] = failed[1]["span_id"]
    ids["failed_call:retrieval"] = failed[0]["span_id"]
    chdb_store.insert_spans(rows + old + failed)
    return ids


def _selected(store: TraceStore, request: SampleRequest) -> set[str]:
    return {key.span_id for key in draw_sample(store, request)}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"kinds": ["llm"], "names": ["summarise"]}, {"other_name"}),
        ({"kinds": ["llm"], "models": ["llama-3"]}, {"other_model"}),
        ({"tags": ["prod", "rag"]}, {"tagged"}),
        ({"tags": ["prod"]}, {"tagged", "half_tagged"}),
        ({"release": "v2"}, {"release"}),
        ({"metadata": {"app": "faq", "tier": "gold"}}, {"metadata"}),
        ({"metadata": {"app": "faq"}}, {"metadata", "metadata_other"}),
    ],
)
def test_filters_select_exactly_the_matching_spans(
    chdb_store: TraceStore, project_id: str, now_us: int, seeded: dict, filters: dict, expected: set
) -> None:
    selected = _selected(chdb_store, _request(project_id, now_us, filters))
    assert selected == {seeded[label] for label in expected}


def test_kind_filter_and_window(
    chdb_store: TraceStore, project_id: str, now_us: int, seeded: dict
) -> None:
    llm = _selected(chdb_store, _request(project_id, now_us, {"kinds": ["llm"]}))
    in_window = {v for k, v in seeded.items() if ":" not in k and k != "too_old"}
    # A call that failed without an answer is never drawn; one that failed with an output is.
    assert llm == in_window - {seeded["failed_call"]}
    assert seeded["error_with_output"] in llm
    retrieval = _selected(chdb_store, _request(project_id, now_us, {"kinds": ["retrieval"]}))
    assert retrieval == {v for k, v in seeded.items() if k.endswith(":retrieval")}


def test_fixed_size_and_rate_samples_are_reproducible(
    chdb_store: TraceStore, project_id: str, now_us: int
) -> None:
    rows = []
    for position in range(400):
        rows += rag_trace(project_id, now_us - 1000 - position * 60_000_000, "a", "b")
    chdb_store.insert_spans(rows)
    fixed = _request(project_id, now_us, {"kinds": ["llm"]}, sample_rate=None, per_day=25)
    first = draw_sample(chdb_store, fixed)
    assert len(first) == 25
    assert draw_sample(chdb_store, fixed) == first
    other_seed = draw_sample(
        chdb_store,
        _request(project_id, now_us, {"kinds": ["llm"]}, sample_rate=None, per_day=25, seed=8),
    )
    assert {k.span_id for k in other_seed} != {k.span_id for k in first}
    rate = _request(project_id, now_us, {"kinds": ["llm"]}, sample_rate=0.25)
    sampled = draw_sample(chdb_store, rate)
    assert 60 <= len(sampled) <= 140  # Binomial(400, 0.25): mean 100, sd 8.7
    assert draw_sample(chdb_store, rate) == sampled
    capped = _request(project_id, now_us, {"kinds": ["llm"]}, sample_rate=0.25, cap=10)
    assert draw_sample(chdb_store, capped) == sampled[:10]


def test_spans_scored_by_every_evaluator_are_left_out(
    chdb_store: TraceStore, project_id: str, now_us: int, seeded: dict
) -> None:
    request = _request(project_id, now_us, {"names": ["generate"], "release": ""})
    before = draw_sample(chdb_store, request)
    target = before[0]
    chdb_store.insert_scores(
        [
            {
                "project_id": project_id,
                "trace_id": target.trace_id,
                "span_id": target.span_id,
                "timestamp": target.start_us,
                "name": "hallucination.rag",
                "evaluator_version": "1",
                "value": 0.1,
                "source": "sampling",
            }
        ]
    )
    after = draw_sample(chdb_store, request)
    assert after == [k for k in before if k != target]
    two = _request(
        project_id,
        now_us,
        {"names": ["generate"]},
        evaluator_keys=("hallucination.rag@1", "faithfulness@1"),
    )
    assert target in draw_sample(chdb_store, two)


def test_bad_filters_are_refused() -> None:
    with pytest.raises(RuleError, match="unknown kind"):
        normalize_filters({"kinds": ["llm", "bogus"]})
    with pytest.raises(RuleError, match="unknown filter"):
        normalize_filters({"model": ["x"]})
    with pytest.raises(RuleError, match="metadata"):
        normalize_filters({"metadata": {"a": 1}})
