"""Which start-time windows a trace-list page is looked for in."""

from __future__ import annotations

from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.pagination import sort_order
from haloscope.platform.store.trace_queries import FIRST_WINDOW_US, start_windows

HOUR_US = 3_600_000_000
WEEK = TraceFilter(start_us=0, end_us=168 * HOUR_US, user_id="u-1")
NEWEST_FIRST = sort_order("start_time_desc")


def _widths(expected: int | None, limit: int = 50) -> list[int]:
    calls: list[int] = []

    def estimate() -> int:
        calls.append(1)
        assert expected is not None
        return expected

    windows = start_windows(
        WEEK,
        NEWEST_FIRST,
        None,
        limit=limit,
        expected_traces=None if expected is None else estimate,
    )
    widths = [w.end_us - w.start_us for w in windows]
    assert len(calls) <= 1
    return widths


def test_without_an_estimate_every_window_is_tried_newest_first() -> None:
    assert _widths(None) == [FIRST_WINDOW_US, 8 * HOUR_US, 64 * HOUR_US, 168 * HOUR_US]


def test_a_sparse_user_skips_the_windows_that_cannot_hold_a_page() -> None:
    # 100 traces over a week: about 38 in the 64-hour window, fewer than a page of 50.
    assert _widths(100) == [168 * HOUR_US]
    # 200 traces: the 64-hour window may hold a page (~76), the narrower ones cannot.
    assert _widths(200) == [64 * HOUR_US, 168 * HOUR_US]


def test_a_busy_user_starts_with_the_narrowest_window() -> None:
    assert _widths(100_000) == [FIRST_WINDOW_US, 8 * HOUR_US, 64 * HOUR_US, 168 * HOUR_US]


def test_other_sorts_read_the_whole_range_without_estimating() -> None:
    windows = list(
        start_windows(WEEK, sort_order("duration_desc"), None, limit=50, expected_traces=None)
    )
    assert windows == [WEEK]
