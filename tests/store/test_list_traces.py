"""The trace list: every filter, keyset pagination, sorts, bad cursors and sorts."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from haloscope.platform.store import TraceFilter, TraceStore

from tests.store.spans import BASE_US, DAY_US, rag_dataset, trace_summary, traces_of

Spans = list[dict]


def any_span(pred: Callable[[dict], bool]) -> Callable[[Spans], bool]:
    return lambda spans: any(pred(s) for s in spans)


# (filter, the traces it must select, judged in Python from the inserted spans)
FILTER_CASES: dict[str, tuple[TraceFilter, Callable[[Spans], bool]]] = {
    "none": (TraceFilter(), lambda spans: True),
    "time_range": (
        TraceFilter(start_us=BASE_US + DAY_US, end_us=BASE_US + 2 * DAY_US),
        lambda spans: (
            BASE_US + DAY_US <= min(s["start_time"] for s in spans) < BASE_US + 2 * DAY_US
        ),
    ),
    "start_only": (
        TraceFilter(start_us=BASE_US + 2 * DAY_US),
        lambda spans: min(s["start_time"] for s in spans) >= BASE_US + 2 * DAY_US,
    ),
    "kind": (TraceFilter(kinds=("tool",)), any_span(lambda s: s["kind"] == "tool")),
    "kinds": (
        TraceFilter(kinds=("tool", "agent")),
        any_span(lambda s: s["kind"] in ("tool", "agent")),
    ),
    "name": (TraceFilter(names=("agent-run",)), any_span(lambda s: s["name"] == "agent-run")),
    "model": (TraceFilter(models=("gpt-4o",)), any_span(lambda s: s["model"] == "gpt-4o")),
    "kind_and_model_on_one_span": (
        TraceFilter(kinds=("llm",), models=("claude-3-5-sonnet",)),
        any_span(lambda s: s["kind"] == "llm" and s["model"] == "claude-3-5-sonnet"),
    ),
    "tags_all": (
        TraceFilter(tags=("rag", "beta")),
        lambda spans: {"rag", "beta"} <= {t for s in spans for t in s["tags"]},
    ),
    "user": (TraceFilter(user_id="user-1"), any_span(lambda s: s["user_id"] == "user-1")),
    "session": (
        TraceFilter(session_id="session-2"),
        any_span(lambda s: s["session_id"] == "session-2"),
    ),
    "release": (TraceFilter(release="v2"), any_span(lambda s: s["release"] == "v2")),
    "status_error": (TraceFilter(status="error"), any_span(lambda s: s["status"] == "error")),
    "status_ok": (
        TraceFilter(status="ok"),
        lambda spans: all(s["status"] == "ok" for s in spans),
    ),
    "search_case_insensitive": (
        TraceFilter(search="ANSWER 7"),
        any_span(lambda s: "answer 7" in (s["input"] + s["output"]).lower()),
    ),
    "search_unicode": (
        TraceFilter(search="ünïcode ✓ WORD1"),
        any_span(lambda s: "ünïcode ✓ word1" in s["input"].lower()),
    ),
    "range_and_user": (
        TraceFilter(start_us=BASE_US + DAY_US, end_us=BASE_US + 3 * DAY_US, user_id="user-1"),
        lambda spans: (
            min(s["start_time"] for s in spans) >= BASE_US + DAY_US
            and any(s["user_id"] == "user-1" for s in spans)
        ),
    ),
    "range_and_error": (
        TraceFilter(start_us=BASE_US, end_us=BASE_US + 2 * DAY_US, status="error"),
        lambda spans: (
            min(s["start_time"] for s in spans) < BASE_US + 2 * DAY_US
            and any(s["status"] == "error" for s in spans)
        ),
    ),
    "combined": (
        TraceFilter(kinds=("llm",), release="v1", status="ok", user_id="user-0"),
        lambda spans: (
            any(s["kind"] == "llm" for s in spans)
            and spans[0]["release"] == "v1"
            and spans[0]["user_id"] == "user-0"
            and all(s["status"] == "ok" for s in spans)
        ),
    ),
}


@pytest.fixture
def dataset(trace_store: TraceStore, project_id: str) -> dict[str, Spans]:
    rows = rag_dataset(project_id, n_traces=12)
    trace_store.insert_spans(rows)
    return traces_of(rows)


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_filter_selects_exactly_the_matching_traces(
    trace_store: TraceStore, project_id: str, dataset: dict[str, Spans], case: str
) -> None:
    flt, matches = FILTER_CASES[case]
    expected = {trace_id for trace_id, spans in dataset.items() if matches(spans)}
    assert expected, "every case must select something"
    if case != "none":
        assert expected != set(dataset), "every filter case must exclude something"
    page = trace_store.list_traces(project_id, flt, limit=100)
    assert {item["trace_id"] for item in page.items} == expected
    assert page.next_cursor is None


def test_items_summarise_their_trace(
    trace_store: TraceStore, project_id: str, dataset: dict[str, Spans]
) -> None:
    page = trace_store.list_traces(project_id, TraceFilter(), limit=100)
    assert len(page.items) == len(dataset)
    for item in page.items:
        expected = trace_summary(dataset[item["trace_id"]])
        assert math.isclose(item.pop("cost"), expected.pop("cost"), rel_tol=1e-9)
        assert item == expected


SORT_KEYS = {
    "start_time_desc": (lambda t: (t["start_time"], t["trace_id"]), True),
    "start_time_asc": (lambda t: (t["start_time"], t["trace_id"]), False),
    "duration_desc": (lambda t: (t["duration_us"], t["trace_id"]), True),
    "cost_desc": (lambda t: (round(t["cost"], 12), t["trace_id"]), True),
}


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
@pytest.mark.parametrize("limit", [1, 5, 12])
def test_pagination_walks_every_trace_once_in_order(
    trace_store: TraceStore, project_id: str, dataset: dict[str, Spans], sort: str, limit: int
) -> None:
    key, descending = SORT_KEYS[sort]
    expected = sorted(
        (trace_summary(spans) for spans in dataset.values()), key=key, reverse=descending
    )
    seen, cursor, pages = [], None, 0
    while True:
        page = trace_store.list_traces(
            project_id, TraceFilter(), limit=limit, cursor=cursor, sort=sort
        )
        assert len(page.items) <= limit
        seen.extend(item["trace_id"] for item in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [t["trace_id"] for t in expected]
    assert pages == math.ceil(len(dataset) / limit)


RANGES = {
    "whole": TraceFilter(start_us=BASE_US, end_us=BASE_US + 3 * DAY_US),
    "last_two_days": TraceFilter(start_us=BASE_US + DAY_US, end_us=BASE_US + 3 * DAY_US),
    "first_hours": TraceFilter(start_us=BASE_US, end_us=BASE_US + 40_000_000),
}


@pytest.mark.parametrize("sort", ["start_time_desc", "start_time_asc"])
@pytest.mark.parametrize("limit", [1, 3, 50])
@pytest.mark.parametrize("window", sorted(RANGES))
def test_pagination_over_a_time_range_walks_its_traces_in_order(
    trace_store: TraceStore,
    project_id: str,
    dataset: dict[str, Spans],
    sort: str,
    limit: int,
    window: str,
) -> None:
    """Pages over a bounded range are looked for in widening time windows first: the walk must
    still list exactly the range's traces, in order, whether a window or the range holds a page."""
    flt = RANGES[window]
    key, descending = SORT_KEYS[sort]
    expected = sorted(
        (
            trace_summary(spans)
            for spans in dataset.values()
            if flt.start_us <= min(s["start_time"] for s in spans) < flt.end_us
        ),
        key=key,
        reverse=descending,
    )
    assert expected
    seen, cursor = [], None
    while True:
        page = trace_store.list_traces(project_id, flt, limit=limit, cursor=cursor, sort=sort)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [item["trace_id"] for item in seen] == [t["trace_id"] for t in expected]
    for item, summary in zip(seen, expected, strict=True):
        assert math.isclose(item.pop("cost"), summary.pop("cost"), rel_tol=1e-9)
        assert item == summary


def test_cursor_is_stable_under_inserts(
    trace_store: TraceStore, project_id: str, dataset: dict[str, Spans]
) -> None:
    first = trace_store.list_traces(project_id, TraceFilter(), limit=4)
    # New traces (all later than everything listed) arrive between the pages.
    trace_store.insert_spans(
        [
            {
                **s,
                "trace_id": "f" + s["trace_id"][1:],
                "start_time": s["start_time"] + 10 * DAY_US,
                "end_time": s["end_time"] + 10 * DAY_US,
            }
            for s in next(iter(dataset.values()))
        ]
    )
    rest, cursor = [], first.next_cursor
    while cursor:
        page = trace_store.list_traces(project_id, TraceFilter(), limit=4, cursor=cursor)
        rest.extend(item["trace_id"] for item in page.items)
        cursor = page.next_cursor
    walked = [item["trace_id"] for item in first.items] + rest
    assert sorted(walked) == sorted(dataset)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "eyJzIjoiY29zdF9kZXNjIn0", "", "e30", "W10"])
def test_invalid_cursor_is_a_value_error(
    trace_store: TraceStore, project_id: str, cursor: str
) -> None:
    with pytest.raises(ValueError, match="cursor"):
        trace_store.list_traces(project_id, TraceFilter(), cursor=cursor or "x")


def test_cursor_from_another_sort_is_refused(
    trace_store: TraceStore, project_id: str, dataset: dict[str, Spans]
) -> None:
    page = trace_store.list_traces(project_id, TraceFilter(), limit=2, sort="cost_desc")
    with pytest.raises(ValueError, match="sort"):
        trace_store.list_traces(
            project_id, TraceFilter(), cursor=page.next_cursor, sort="start_time_desc"
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sort": "name_asc"}, "unknown sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 100_000}, "limit"),
    ],
)
def test_bad_arguments_are_value_errors(
    trace_store: TraceStore, project_id: str, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        trace_store.list_traces(project_id, TraceFilter(), **kwargs)


def test_bad_filters_are_value_errors() -> None:
    with pytest.raises(ValueError, match="status"):
        TraceFilter(status="failed")
    with pytest.raises(ValueError, match="end_us"):
        TraceFilter(start_us=10, end_us=10)
