"""The trace list's user, session and score filters: candidate traces are found first (spans
without FINAL, scores with FINAL) and only their spans are read exactly. The pages must be exactly
those judged in Python from the final rows: traces begun before the range whose matching span
lies inside it stay out, a matching span after the range's end still counts, a span or score
re-sent with other values counts only as re-sent, on every page size and both sorts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from haloscope.platform.store import TraceFilter, TraceStore
from haloscope.platform.store.dashboard_queries import TRACE_LIST_SCORES_SQL, ScoreThreshold
from haloscope.platform.store.pagination import sort_order
from haloscope.platform.store.trace_queries import list_traces_sql

from tests.store.spans import BASE_US, DAY_US, span_row

HOUR_US = 3600 * 1_000_000
# A three-day range ending at midnight: pages are looked for in 1 h, 8 h and 64 h windows first.
RANGE = TraceFilter(start_us=BASE_US + DAY_US, end_us=BASE_US + 4 * DAY_US)
END_US = BASE_US + 4 * DAY_US
TARGET_USER, TARGET_SESSION, SCORE = "user-x", "session-x", "hallucination.rag"

Rows = list[dict[str, Any]]


def trace(
    project_id: str, n: int, start: int, child_offset: int = 60_000_000, **child: Any
) -> Rows:
    """A root span and one child ``child_offset`` µs later (``child`` overrides its fields)."""
    trace_id, root_id = f"{n:032x}", f"{n:012x}0000"
    root = span_row(project_id, trace_id, root_id, name="root", start_time=start,
                    end_time=start + 1_000)  # fmt: skip
    fields = {"parent_span_id": root_id, "start_time": start + child_offset,
              "end_time": start + child_offset + 1_000, **child}  # fmt: skip
    return [root, span_row(project_id, trace_id, f"{n:012x}0001", **fields)]


def dataset(project_id: str) -> tuple[Rows, Rows]:
    """First-sent rows and re-sent rows (the same spans, sent again with other values)."""
    rows: Rows = []
    # Matching traces through the range, denser in its last hours, some crossing midnight.
    starts = [END_US - k * 7 * 60_000_000 for k in range(1, 12)]
    starts += [BASE_US + DAY_US + k * 5 * HOUR_US + 1 for k in range(14)]
    for n, start in enumerate(starts):
        offset = (n % 3) * 9 * HOUR_US  # the matching child may start on a later day
        rows += trace(project_id, n, start, offset, user_id=TARGET_USER, session_id=TARGET_SESSION)
        rows += trace(project_id, 100 + n, start + 1, user_id=f"user-{n}")  # a non-matching one
    edge = {"user_id": TARGET_USER, "session_id": TARGET_SESSION}
    rows += trace(project_id, 200, RANGE.start_us - HOUR_US, 2 * HOUR_US, **edge)  # began before
    rows += trace(project_id, 201, END_US - HOUR_US, 10 * HOUR_US, **edge)  # match after the end
    rows += trace(project_id, 202, END_US + HOUR_US, **edge)  # begins after the range
    rows += trace(project_id, 203, END_US - 2 * HOUR_US, **edge)  # re-sent to another user
    rows += trace(project_id, 204, END_US - 3 * HOUR_US, user_id="user-y")  # re-sent to the target
    rows += trace(project_id, 205, END_US - 30 * 60_000_000, **edge)  # re-sent: its root moves
    by_key = {(r["trace_id"], r["span_id"]): r for r in rows}
    resent = [
        {**by_key[(f"{203:032x}", f"{203:012x}0001")], "user_id": "user-z", "session_id": ""},
        {**by_key[(f"{204:032x}", f"{204:012x}0001")], **edge},
        {**by_key[(f"{205:032x}", f"{205:012x}0000")], "start_time": END_US - 5 * 60_000_000},
    ]
    return rows, resent


def scores(project_id: str, rows: Rows) -> tuple[Rows, Rows]:
    """Scores on the child span of each trace (value by trace number), and re-runs of the same
    evaluator version that move two of them across the 0.8 threshold."""

    def score(span: dict[str, Any], value: float) -> dict[str, Any]:
        return {
            "project_id": project_id, "trace_id": span["trace_id"], "span_id": span["span_id"],
            "timestamp": span["start_time"], "name": SCORE, "evaluator_version": "v1",
            "value": value, "label": "", "reason": "", "evidence": "", "source": "judge",
            "sampling_run_id": "",
        }  # fmt: skip

    children = [r for r in rows if r["parent_span_id"]]
    first = [score(s, (int(s["trace_id"], 16) % 10) / 10 + 0.05) for s in children]
    by_trace = {s["trace_id"]: s for s in children}
    rerun = [score(by_trace[f"{8:032x}"], 0.1), score(by_trace[f"{102:032x}"], 0.95)]
    return first, rerun


def final_traces(rows: Rows, resent: Rows) -> dict[str, Rows]:
    """Each trace's spans as FINAL reads them: a re-sent span replaces the first-sent one."""
    latest = {(r["trace_id"], r["span_id"]): r for r in [*rows, *resent]}
    grouped: dict[str, Rows] = {}
    for span in latest.values():
        grouped.setdefault(span["trace_id"], []).append(span)
    return grouped


def walk(list_page: Callable[..., Any], limit: int, sort: str) -> list[tuple[str, int, int]]:
    """(trace id, start, span count) of every item over all pages."""
    seen, cursor = [], None
    while True:
        page = list_page(limit=limit, cursor=cursor, sort=sort)
        seen += [(t["trace_id"], t["start_time"], t["span_count"]) for t in page.items]
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


def expected(traces: dict[str, Rows], keep: Callable[[Rows], bool], sort: str) -> list[tuple]:
    """The walk judged in Python: traces starting in RANGE that ``keep`` accepts, in order."""
    items = [
        (trace_id, min(s["start_time"] for s in spans), len(spans))
        for trace_id, spans in traces.items()
        if RANGE.start_us <= min(s["start_time"] for s in spans) < RANGE.end_us and keep(spans)
    ]
    return sorted(items, key=lambda t: (t[1], t[0]), reverse=sort == "start_time_desc")


@pytest.fixture
def stored(trace_store: TraceStore, project_id: str) -> tuple[dict[str, Rows], set[str]]:
    """The dataset stored (re-sent rows in a later insert); the final spans by trace and the
    traces whose final score reaches 0.8."""
    rows, resent = dataset(project_id)
    first_scores, rerun = scores(project_id, rows)
    trace_store.insert_spans(rows)
    trace_store.insert_spans(resent)
    trace_store.insert_scores(first_scores)
    trace_store.insert_scores(rerun)
    final_scores = {s["trace_id"]: s["value"] for s in [*first_scores, *rerun]}
    return final_traces(rows, resent), {t for t, v in final_scores.items() if v >= 0.8}


@pytest.mark.parametrize("sort", ["start_time_desc", "start_time_asc"])
@pytest.mark.parametrize("limit", [1, 4, 50])
@pytest.mark.parametrize("field", ["user_id", "session_id"])
def test_user_and_session_filters_page_through_exactly_the_matching_traces(
    trace_store: TraceStore,
    project_id: str,
    stored: tuple[dict[str, Rows], set[str]],
    field: str,
    limit: int,
    sort: str,
) -> None:
    traces, _ = stored
    value = TARGET_USER if field == "user_id" else TARGET_SESSION
    flt = TraceFilter(start_us=RANGE.start_us, end_us=RANGE.end_us, **{field: value})

    def list_page(**kwargs: Any) -> Any:
        return trace_store.list_traces(project_id, flt, **kwargs)

    want = expected(traces, lambda spans: any(s[field] == value for s in spans), sort)
    assert len(want) > 2 * limit or limit == 50  # several pages, found in several windows
    assert walk(list_page, limit, sort) == want


@pytest.mark.parametrize("sort", ["start_time_desc", "start_time_asc"])
@pytest.mark.parametrize("limit", [1, 4, 50])
def test_score_threshold_pages_through_exactly_the_traces_scored_in_range(
    trace_store: TraceStore,
    project_id: str,
    stored: tuple[dict[str, Rows], set[str]],
    limit: int,
    sort: str,
) -> None:
    traces, high = stored
    threshold = ScoreThreshold(SCORE, minimum=0.8)

    def list_page(**kwargs: Any) -> Any:
        return trace_store.list_traces_by_score(project_id, RANGE, threshold, **kwargs)

    want = expected(traces, lambda spans: spans[0]["trace_id"] in high, sort)
    assert {f"{8:032x}", f"{102:032x}"} & {t for t, _, _ in want} == {f"{102:032x}"}
    assert walk(list_page, limit, sort) == want


def test_score_threshold_with_a_user_filter_needs_both(
    trace_store: TraceStore, project_id: str, stored: tuple[dict[str, Rows], set[str]]
) -> None:
    traces, high = stored
    flt = TraceFilter(start_us=RANGE.start_us, end_us=RANGE.end_us, user_id=TARGET_USER)
    threshold = ScoreThreshold(SCORE, minimum=0.8)

    def list_page(**kwargs: Any) -> Any:
        return trace_store.list_traces_by_score(project_id, flt, threshold, **kwargs)

    want = expected(
        traces,
        lambda spans: (
            spans[0]["trace_id"] in high and any(s["user_id"] == TARGET_USER for s in spans)
        ),
        "start_time_desc",
    )
    assert want
    assert walk(list_page, 2, "start_time_desc") == want


def test_candidate_traces_are_read_through_the_per_granule_trace_index(
    trace_store: TraceStore, project_id: str, stored: tuple[dict[str, Rows], set[str]]
) -> None:
    """The user filter's exact read looks its candidate traces up with idx_trace_granule (from
    0005_trace_granule_index.sql), and the page's scores with the scores table's."""
    flt = TraceFilter(start_us=RANGE.start_us, end_us=RANGE.end_us, user_id=TARGET_USER)
    sql, params = list_traces_sql(project_id, flt, sort_order("start_time_desc"), 51, None)
    plan = "\n".join(
        r["explain"] for r in trace_store.driver.query("EXPLAIN indexes = 1 " + sql, params)
    )
    assert "Name: idx_trace_granule" in plan
    scores_sql = "EXPLAIN indexes = 1 " + TRACE_LIST_SCORES_SQL
    plan = trace_store.driver.query(
        scores_sql, {"project_id": project_id, "trace_ids": list(stored[0])[:3]}
    )
    assert "Name: idx_trace_granule" in "\n".join(r["explain"] for r in plan)
