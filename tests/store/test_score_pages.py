"""ScoreStore.pages, the export's read of the store, on both drivers: however the scores are
spread in time (dense bursts, equal timestamps, gaps of years, a lone score), the pages hold
every matching score exactly once in the order of the score list, none longer than asked, and
each read stays inside a time window instead of sorting the whole table."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from haloscope.platform.store import TraceStore
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore

BASE_US = 1_600_000_000_000_000
YEAR_US = 365 * 86_400_000_000


def score(project_id: str, n: int, timestamp_us: int, **extra: Any) -> dict[str, Any]:
    return {
        "project_id": project_id,
        "trace_id": f"{n:032x}",
        "span_id": "",
        "timestamp": timestamp_us,
        "name": "even" if n % 2 == 0 else "odd",
        "value": n / 100,
        "source": "api",
        "score_id": uuid.uuid4().hex,
        **extra,
    }


def listed(scores: ScoreStore, project_id: str, flt: ScoreFilter) -> list[str]:
    """The ids of every score the list gives, page by page through its cursor."""
    ids, cursor = [], None
    while True:
        page = scores.list(project_id, flt, limit=1000, cursor=cursor)
        ids += [row["id"] for row in page.rows]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


@pytest.mark.parametrize("page_size", [1, 3, 7, 1000])
def test_pages_hold_every_score_once_in_list_order(
    trace_store: TraceStore, project_id: str, page_size: int
) -> None:
    rows = [score(project_id, n, BASE_US + n // 10) for n in range(40)]  # bursts of equal times
    rows += [score(project_id, 100 + n, BASE_US - 2 * YEAR_US + n * 1000) for n in range(9)]
    rows += [score(project_id, 200, BASE_US + 3 * YEAR_US)]  # a lone score years later
    trace_store.insert_scores(rows)
    scores = ScoreStore(trace_store.driver)
    deleted = rows[5]["score_id"]
    assert scores.delete(project_id, deleted, "pk-test") is not None
    for flt in (ScoreFilter(), ScoreFilter(names=("odd",)), ScoreFilter(deleted=True)):
        pages = list(scores.pages(project_id, flt, page_size))
        assert all(1 <= len(page) <= page_size for page in pages)
        ids = [row["id"] for page in pages for row in page]
        assert ids == listed(scores, project_id, flt)
    assert len(listed(scores, project_id, ScoreFilter())) == 49
    assert [r["id"] for p in scores.pages(project_id, ScoreFilter(deleted=True)) for r in p] == [
        deleted
    ]


def test_no_scores_no_pages(trace_store: TraceStore, project_id: str) -> None:
    assert list(ScoreStore(trace_store.driver).pages(project_id, ScoreFilter())) == []


def test_every_page_query_is_bounded_to_a_time_window(
    trace_store: TraceStore, project_id: str
) -> None:
    trace_store.insert_scores([score(project_id, n, BASE_US + n * 1000) for n in range(60)])
    sent: list[dict[str, Any]] = []
    real = trace_store.driver

    class Recording:
        def query(self, sql: str, params: Any = None) -> Any:
            sent.append(dict(params or {}))
            return real.query(sql, params)

    scores = ScoreStore(Recording())  # type: ignore[arg-type]
    pages = list(scores.pages(project_id, ScoreFilter(), 5))
    assert sum(map(len, pages)) == 60
    page_queries = [params for params in sent if "limit" in params]
    assert page_queries and all("start_us" in p and "end_us" in p for p in page_queries)
    widest = max(p["end_us"] - p["start_us"] for p in page_queries)
    assert widest < 60 * 1000  # never the whole span of the scores at once
