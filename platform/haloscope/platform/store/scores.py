"""ScoreStore: writes, lists and deletes the scores of one project (the ``scores`` table)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from haloscope.platform.store.base import SCORE_COLUMNS, StoreDriver
from haloscope.platform.store.encoding import encode_scores
from haloscope.platform.store.pagination import decode_cursor, encode_cursor
from haloscope.platform.store.score_queries import (
    SCORE_BY_ID_SQL,
    SCORE_SORTS,
    TARGET_STARTS_SQL,
    ScoreFilter,
    list_scores_sql,
    score_span_sql,
)

SCORE_SORT = "timestamp_desc"
MAX_SCORE_PAGE = 1000
# Pages an export's time window is sized to hold at the scores' mean density (ScoreStore.pages).
EXPORT_WINDOW_PAGES = 4
# The most scores a trace detail lists (newest target first).
MAX_TRACE_SCORES = 10_000


@dataclass(frozen=True)
class TargetStarts:
    """Start times (µs) of stored traces (their earliest span) and spans, by id."""

    traces: dict[str, int]
    spans: dict[tuple[str, str], int]

    def start_of(self, trace_id: str, span_id: str) -> int | None:
        """The start of the span (``span_id`` given) or of the trace; None when not stored."""
        if span_id:
            return self.spans.get((trace_id, span_id))
        return self.traces.get(trace_id)


@dataclass(frozen=True)
class ScorePage:
    """One page of the score list (rows as read); ``next_cursor`` is None on the last page."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


class ScoreStore:
    """Scores over one driver. Every read and write is scoped to one project."""

    def __init__(self, driver: StoreDriver) -> None:
        self.driver = driver

    def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert score rows (keys of SCORE_COLUMNS, ``timestamp`` in µs). Only the columns the
        rows carry are named, so judge rows insert as they did before 0007_human_scores.sql."""
        if rows:
            columns = [c for c in SCORE_COLUMNS if any(c in row for row in rows)]
            self.driver.insert_formatted("scores", columns, encode_scores(rows), "JSONEachRow")

    def target_starts(self, project_id: str, trace_ids: Sequence[str]) -> TargetStarts:
        """The start times of the project's stored traces among ``trace_ids`` and their spans."""
        traces: dict[str, int] = {}
        spans: dict[tuple[str, str], int] = {}
        if trace_ids:
            params = {"project_id": project_id, "trace_ids": sorted(set(trace_ids))}
            for row in self.driver.query(TARGET_STARTS_SQL, params):
                start, trace_id = int(row["start_us"]), row["trace_id"]
                spans[(trace_id, row["span_id"])] = start
                traces[trace_id] = min(start, traces.get(trace_id, start))
        return TargetStarts(traces, spans)

    def list(
        self, project_id: str, flt: ScoreFilter, *, limit: int = 50, cursor: str | None = None
    ) -> ScorePage:
        """A page of the project's scores matching ``flt``, newest first, after ``cursor``;
        ValueError for a bad limit or a cursor this list did not issue."""
        if not 1 <= limit <= MAX_SCORE_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_SCORE_PAGE}")
        after = decode_cursor(cursor, SCORE_SORT, SCORE_SORTS) if cursor else None
        rows = self.driver.query(*list_scores_sql(project_id, flt, limit + 1, after))
        if len(rows) <= limit:
            return ScorePage(rows, None)
        rows = rows[:limit]
        last = rows[-1]
        return ScorePage(rows, encode_cursor(SCORE_SORT, int(last["timestamp_us"]), last["id"]))

    def pages(
        self, project_id: str, flt: ScoreFilter, page_size: int = MAX_SCORE_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """Every score matching ``flt`` in the order of :meth:`list`, as consecutive pages of
        at most ``page_size`` rows, each one query read when asked for, so a caller streaming
        them holds one page at a time.

        A keyset page over the whole table sorts every older score again, so an export would
        cost the square of the project's scores. Instead the time from the newest matching
        score to the oldest is walked in windows (newest first) sized to hold about
        EXPORT_WINDOW_PAGES pages at the scores' mean density, and keyset-paged within each:
        a page reads only the days of its window (the sorting key begins with the day). A
        window that held more than twice that many pages halves the next one; one that held at
        most one page doubles it. A window's last page may hold fewer rows."""
        span = self.driver.query(*score_span_sql(project_id, flt))[0]
        total = int(span["scores"])
        if total == 0:
            return
        low, top = int(span["first_us"]), int(span["last_us"]) + 1
        width = max(1, (top - low) * page_size * EXPORT_WINDOW_PAGES // total)
        while top > low:
            window = dataclasses.replace(flt, start_us=max(low, top - width), end_us=top)
            after: tuple[int, str] | None = None
            pages = 0
            while True:
                rows = self.driver.query(*list_scores_sql(project_id, window, page_size, after))
                pages += 1
                if rows:
                    yield rows
                if len(rows) < page_size:
                    break
                after = (int(rows[-1]["timestamp_us"]), rows[-1]["id"])
            top = window.start_us
            if pages > 2 * EXPORT_WINDOW_PAGES:
                width = max(1, width // 2)
            elif pages <= 1:
                width *= 2

    def of_trace(self, project_id: str, trace_id: str) -> list[dict[str, Any]]:
        """The live scores of the trace and its spans (at most MAX_TRACE_SCORES), as read."""
        flt = ScoreFilter(trace_id=trace_id)
        return self.driver.query(*list_scores_sql(project_id, flt, MAX_TRACE_SCORES, None))

    def get(self, project_id: str, score_id: str) -> dict[str, Any] | None:
        """The project's live score with id ``score_id``, as read; None when there is none."""
        rows = self.driver.query(SCORE_BY_ID_SQL, {"project_id": project_id, "id": score_id})
        return rows[0] if rows else None

    def delete(self, project_id: str, score_id: str, deleted_by: str) -> dict[str, Any] | None:
        """Hide the score behind a tombstone (a newer copy with ``deleted`` = 1 and
        ``deleted_by``), which stays as the audit record; the deleted score as read before,
        None when the project has no live score ``score_id``."""
        row = self.get(project_id, score_id)
        if row is None:
            return None
        tombstone = {c: row[c] for c in SCORE_COLUMNS if c in row}
        tombstone.update(timestamp=int(row["timestamp_us"]), deleted=1, deleted_by=deleted_by)
        self.insert([tombstone])
        return row
