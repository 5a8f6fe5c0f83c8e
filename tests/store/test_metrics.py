"""Metrics by day and by model, checked against numbers computed in Python from the rows."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from haloscope.platform.store import TraceStore

from tests.store.spans import BASE_US, DAY_US, rag_dataset


def quantile(values: list[int], q: float) -> float:
    """Linear interpolation between closest ranks (the 'inclusive' definition)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def expected_metrics(rows: list[dict], key) -> dict:
    groups: dict = {}
    for row in rows:
        groups.setdefault(key(row), []).append(row)
    out = {}
    for group, spans in groups.items():
        durations = [s["end_time"] - s["start_time"] for s in spans]
        out[group] = {
            "count": len(spans),
            "traces": len({s["trace_id"] for s in spans}),
            "error_rate": sum(s["status"] == "error" for s in spans) / len(spans),
            "latency_p50_ms": quantile(durations, 0.5) / 1000,
            "latency_p95_ms": quantile(durations, 0.95) / 1000,
            "latency_p99_ms": quantile(durations, 0.99) / 1000,
            "prompt_tokens": sum(s["prompt_tokens"] for s in spans),
            "completion_tokens": sum(s["completion_tokens"] for s in spans),
            "total_tokens": sum(s["total_tokens"] for s in spans),
            "cost": sum(s["cost"] for s in spans),
        }
    return out


def day_of(row: dict) -> str:
    return dt.datetime.fromtimestamp(row["start_time"] / 1e6, dt.UTC).date().isoformat()


def assert_matches(actual: dict, expected: dict) -> None:
    assert actual.keys() >= expected.keys()
    for name, value in expected.items():
        assert actual[name] == pytest.approx(value, rel=1e-9), name


@pytest.fixture
def rows(trace_store: TraceStore, project_id: str) -> list[dict]:
    data = rag_dataset(project_id, n_traces=15)
    trace_store.insert_spans(data)
    return data


WINDOW = (BASE_US, BASE_US + 3 * DAY_US)


def test_metrics_by_day(trace_store: TraceStore, project_id: str, rows: list[dict]) -> None:
    expected = expected_metrics(rows, day_of)
    result = trace_store.metrics(project_id, *WINDOW, ["day"])
    assert [r["day"] for r in result] == sorted(expected)
    assert len(expected) == 3
    for row in result:
        assert_matches(row, expected[row["day"]])


def test_metrics_by_model_counts_llm_spans(
    trace_store: TraceStore, project_id: str, rows: list[dict]
) -> None:
    llm = [r for r in rows if r["kind"] == "llm"]
    expected = expected_metrics(llm, lambda r: r["model"])
    result = trace_store.metrics(project_id, *WINDOW, ["model"])
    assert [r["model"] for r in result] == sorted(expected)
    for row in result:
        assert_matches(row, expected[row["model"]])
    assert any(row["error_rate"] > 0 for row in result)


def test_metrics_by_day_and_model(
    trace_store: TraceStore, project_id: str, rows: list[dict]
) -> None:
    llm = [r for r in rows if r["kind"] == "llm"]
    expected = expected_metrics(llm, lambda r: (day_of(r), r["model"]))
    result = trace_store.metrics(project_id, *WINDOW, ["model", "day"])
    assert [(r["day"], r["model"]) for r in result] == sorted(expected)
    for row in result:
        assert_matches(row, expected[(row["day"], row["model"])])


def test_metrics_total_respects_the_time_range(
    trace_store: TraceStore, project_id: str, rows: list[dict]
) -> None:
    start, end = BASE_US + DAY_US, BASE_US + 2 * DAY_US
    inside = [r for r in rows if start <= r["start_time"] < end]
    [total] = trace_store.metrics(project_id, start, end, [])
    assert_matches(total, expected_metrics(inside, lambda r: None)[None])
    assert trace_store.metrics(project_id, end + 10 * DAY_US, end + 11 * DAY_US, []) == []


def test_overview_metrics_are_the_three_groupings_in_one_pass(
    trace_store: TraceStore, project_id: str, rows: list[dict]
) -> None:
    trace_store.insert_spans(rows)  # a re-sent batch must not count twice
    start, end = BASE_US + DAY_US, BASE_US + 3 * DAY_US
    inside = [r for r in rows if start <= r["start_time"] < end]
    overview = trace_store.overview_metrics(project_id, start, end)

    [total] = overview["totals"]
    assert_matches(total, expected_metrics(inside, lambda r: None)[None])
    by_day = expected_metrics(inside, day_of)
    assert [r["day"] for r in overview["daily"]] == sorted(by_day) and len(by_day) == 2
    for row in overview["daily"]:
        assert_matches(row, by_day[row["day"]])
    llm = [r for r in inside if r["kind"] == "llm"]
    by_model = expected_metrics(llm, lambda r: r["model"])
    assert [r["model"] for r in overview["by_model"]] == sorted(by_model)
    for row in overview["by_model"]:
        assert_matches(row, by_model[row["model"]])


def test_overview_metrics_of_an_empty_range_are_empty(
    trace_store: TraceStore, project_id: str, rows: list[dict]
) -> None:
    later = BASE_US + 20 * DAY_US
    empty = trace_store.overview_metrics(project_id, later, later + DAY_US)
    assert empty == {"totals": [], "daily": [], "by_model": []}
    with pytest.raises(ValueError, match="end_us"):
        trace_store.overview_metrics(project_id, later, later)


@pytest.mark.parametrize("group_by", [["week"], ["day", "day"], ["model; DROP TABLE spans"]])
def test_unknown_grouping_is_a_value_error(
    trace_store: TraceStore, project_id: str, group_by: list[str]
) -> None:
    with pytest.raises(ValueError, match="group_by"):
        trace_store.metrics(project_id, *WINDOW, group_by)


def test_empty_time_range_is_a_value_error(trace_store: TraceStore, project_id: str) -> None:
    with pytest.raises(ValueError, match="end_us"):
        trace_store.metrics(project_id, BASE_US, BASE_US, [])
