"""Sessions and users: lists with totals per session and per user, and one session's traces
read as a conversation. Every read is scoped to one project (SQL in ``session_queries``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from haloscope.platform.store.base import StoreDriver
from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.session_queries import (
    DEFAULT_SORT,
    SCORES_BY_TRACE_SQL,
    SESSION_SORT_COLUMNS,
    USER_SORT_COLUMNS,
    group_sort,
    session_totals_sql,
    session_turns_sql,
    sessions_sql,
    users_sql,
)

MAX_GROUP_PAGE = 500
MAX_SESSION_TRACES = 1000
_INTEGER_FIELDS = (
    "traces",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "first_seen",
    "last_seen",
    "sessions",
    "spans",
)


@dataclass(frozen=True)
class GroupPage:
    """One page of sessions or users; ``next_offset`` is None on the last page."""

    items: list[dict[str, Any]]
    next_offset: int | None


@dataclass(frozen=True)
class SessionDetail:
    """One session: its ``totals`` (traces, errored traces, spans, tokens, cost, first trace
    start, last trace end, ``user_id`` as in the list, all ``user_ids``), per score name the
    live scores of its traces and spans (``{name, scores, mean}``, mean over numeric and
    boolean values, None for categories only), and a page of its traces in start order
    (``turns``), each with its input and output (decoded JSON, None when not recorded) and its
    own ``scores``."""

    session_id: str
    totals: dict[str, Any]
    scores: list[dict[str, Any]]
    turns: list[dict[str, Any]]
    next_offset: int | None


def _check_page(limit: int, offset: int, most: int) -> None:
    if not 1 <= limit <= most:
        raise ValueError(f"limit must be between 1 and {most}")
    if offset < 0:
        raise ValueError("offset must not be negative")


def _figures(row: dict[str, Any]) -> dict[str, Any]:
    """A group row with integer counts and times, the cost as a float (its exact sum, the
    sort key, dropped)."""
    row.pop("group_cost", None)
    for field in _INTEGER_FIELDS:
        if field in row:
            row[field] = int(row[field])
    row["cost"] = float(row["cost"])
    if "error_rate" in row:
        row["error_rate"] = float(row["error_rate"])
    return row


def _json_value(text: str) -> Any:
    """A stored JSON column's value; None when empty, the text itself when it is not JSON."""
    if not text:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _score_summaries(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``{name, scores, mean}`` per score name of SCORES_BY_TRACE_SQL rows, by name."""
    by_name: dict[str, list[float]] = {}
    for row in rows:
        entry = by_name.setdefault(row["name"], [0, 0, 0.0])
        entry[0] += int(row["scores"])
        entry[1] += int(row["valued"])
        entry[2] += float(row["value_sum"])
    return [
        {"name": name, "scores": int(count), "mean": total / valued if valued else None}
        for name, (count, valued, total) in sorted(by_name.items())
    ]


class SessionStore:
    """Session and user reads over one driver."""

    def __init__(self, driver: StoreDriver) -> None:
        self.driver = driver

    def _page(
        self, query: tuple[str, dict[str, Any]], limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """The first ``limit`` rows of ``query`` (asked for one more), and the next page's
        offset when that one came."""
        rows = self.driver.query(*query)
        return rows[:limit], offset + limit if len(rows) > limit else None

    def list_sessions(
        self,
        project_id: str,
        start_us: int,
        end_us: int,
        *,
        user_id: str | None = None,
        sort: str = DEFAULT_SORT,
        limit: int = 50,
        offset: int = 0,
    ) -> GroupPage:
        """Sessions of the traces starting in ``[start_us, end_us)`` (of ``user_id``'s traces
        only, when given): ``session_id, user_id, traces, errors`` (traces with an error),
        tokens, ``cost``, ``first_seen`` (first trace start) and ``last_seen`` (last trace
        end), µs. ValueError for an unknown sort, a bad page or range."""
        order = group_sort(sort, SESSION_SORT_COLUMNS)
        _check_page(limit, offset, MAX_GROUP_PAGE)
        flt = TraceFilter(start_us=start_us, end_us=end_us, user_id=user_id)
        query = sessions_sql(project_id, flt, order, limit + 1, offset)
        rows, next_offset = self._page(query, limit, offset)
        return GroupPage([_figures(row) for row in rows], next_offset)

    def list_users(
        self,
        project_id: str,
        start_us: int,
        end_us: int,
        *,
        sort: str = DEFAULT_SORT,
        limit: int = 50,
        offset: int = 0,
    ) -> GroupPage:
        """Users of the traces starting in ``[start_us, end_us)``: ``user_id, traces,
        sessions, errors, error_rate`` (share of traces with an error), tokens, ``cost``,
        ``first_seen`` and ``last_seen`` (µs). ValueError for an unknown sort, a bad page or
        range."""
        order = group_sort(sort, USER_SORT_COLUMNS)
        _check_page(limit, offset, MAX_GROUP_PAGE)
        flt = TraceFilter(start_us=start_us, end_us=end_us)
        query = users_sql(project_id, flt, order, limit + 1, offset)
        rows, next_offset = self._page(query, limit, offset)
        return GroupPage([_figures(row) for row in rows], next_offset)

    def get_user(
        self, project_id: str, user_id: str, start_us: int, end_us: int
    ) -> dict[str, Any] | None:
        """The :meth:`list_users` row of ``user_id`` over the range; None when the project
        has no trace of that user starting in it."""
        flt = TraceFilter(start_us=start_us, end_us=end_us, user_id=user_id)
        order = group_sort(DEFAULT_SORT, USER_SORT_COLUMNS)
        rows = self.driver.query(*users_sql(project_id, flt, order, 1, 0))
        return _figures(rows[0]) if rows else None

    def get_session(
        self,
        project_id: str,
        session_id: str,
        *,
        start_us: int | None = None,
        end_us: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> SessionDetail | None:
        """The session's totals, score summaries and a page of its traces (all time unless a
        range bounds the traces' starts); None when the project has no trace of it there."""
        _check_page(limit, offset, MAX_SESSION_TRACES)
        flt = TraceFilter(start_us=start_us, end_us=end_us, session_id=session_id)
        (totals,) = self.driver.query(*session_totals_sql(project_id, flt))
        if int(totals["traces"]) == 0:
            return None
        trace_ids = totals.pop("trace_ids")
        query = session_turns_sql(project_id, flt, limit + 1, offset)
        turns, next_offset = self._page(query, limit, offset)
        score_rows = self.driver.query(
            SCORES_BY_TRACE_SQL, {"project_id": project_id, "trace_ids": trace_ids}
        )
        by_trace: dict[str, list[dict[str, Any]]] = {}
        for row in score_rows:
            by_trace.setdefault(row["trace_id"], []).append(row)
        for turn in turns:
            turn.update(
                input=_json_value(turn["input"]),
                output=_json_value(turn["output"]),
                scores=_score_summaries(by_trace.get(turn["trace_id"], ())),
            )
            for field in ("start_time", "end_time", "duration_us", "span_count", "error_count"):
                turn[field] = int(turn[field])
        return SessionDetail(
            session_id=session_id,
            totals=_figures(totals),
            scores=_score_summaries(score_rows),
            turns=[_figures(turn) for turn in turns],
            next_offset=next_offset,
        )
