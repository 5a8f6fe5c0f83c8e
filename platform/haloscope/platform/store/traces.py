"""TraceStore: writes spans and scores, reads trace lists, trace trees and metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haloscope.platform.store import dashboard_queries as dashboard
from haloscope.platform.store import migrate as migrations
from haloscope.platform.store.base import SPAN_COLUMNS, StoreDriver, StoreError
from haloscope.platform.store.dashboard_queries import ScoreThreshold
from haloscope.platform.store.encoding import (
    decode_span,
    encode_spans,
    span_row,
)
from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.metrics_queries import (
    OVERVIEW_SQL,
    checked_groups,
    metrics_row,
    metrics_sql,
    overview_rows,
)
from haloscope.platform.store.pagination import (
    decode_cursor,
    encode_cursor,
    sort_order,
)
from haloscope.platform.store.scores import ScoreStore
from haloscope.platform.store.trace_queries import (
    TRACE_SPANS_SQL,
    TRACE_SUMMARIES_SQL,
    list_traces_sql,
    selective_trace_count_sql,
    start_windows,
    trace_summaries_params,
)

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class TracePage:
    """One page of the trace list; ``next_cursor`` is None on the last page."""

    items: list[dict[str, Any]]
    next_cursor: str | None


class TraceStore:
    """The trace store over one driver. Every read is scoped to one project."""

    def __init__(self, driver: StoreDriver) -> None:
        self.driver = driver

    def migrate(
        self, directory: Path | None = None, *, cluster: str = "", retention_days: int | None = None
    ) -> list[int]:
        """Apply pending ClickHouse migrations (``ON CLUSTER cluster`` when given; the retention
        default set when ``retention_days`` is not None); return the versions applied."""
        return migrations.migrate(
            self.driver, directory, cluster=cluster, retention_days=retention_days
        )

    def ping(self) -> bool:
        """Whether the engine answers a trivial query."""
        try:
            return self.driver.query("SELECT 1 AS ok") == [{"ok": 1}]
        except StoreError:
            return False

    def close(self) -> None:
        """Release the driver."""
        self.driver.close()

    def insert_encoded_spans(self, payload: bytes, n_rows: int) -> None:
        """Insert ``n_rows`` spans already encoded by ``encoding.encode_spans`` (no-op when 0)."""
        if n_rows > 0:
            self.driver.insert_formatted("spans", SPAN_COLUMNS, payload, "JSONCompactEachRow")

    def insert_spans(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert span rows given as mappings with SPAN_COLUMNS keys (absent optional keys take
        the column default). Re-sent spans replace, never add."""
        self.insert_encoded_spans(encode_spans([span_row(r) for r in rows]), len(rows))

    def insert_scores(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert score rows (see base.SCORE_COLUMNS; ``timestamp`` in µs)."""
        ScoreStore(self.driver).insert(rows)

    def list_traces(
        self,
        project_id: str,
        filters: TraceFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
        sort: str = "start_time_desc",
    ) -> TracePage:
        """A page of the project's traces matching ``filters`` in ``sort`` order, continuing
        after ``cursor``. ValueError for an unknown sort, a foreign cursor or a bad limit."""
        return self._trace_page(project_id, filters, None, limit, cursor, sort)

    def get_trace(self, project_id: str, trace_id: str) -> list[dict[str, Any]] | None:
        """Every span of the trace, fields decoded, by start time; None when the project has
        no such trace."""
        rows = self.driver.query(TRACE_SPANS_SQL, {"project_id": project_id, "trace_id": trace_id})
        return [decode_span(row) for row in rows] or None

    def metrics(
        self, project_id: str, start_us: int, end_us: int, group_by: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Span count, trace count, error rate, latency p50/p95/p99 (ms), tokens and cost of
        spans starting in ``[start_us, end_us)``, grouped by any of "day", "model", "release",
        "prompt_name" and "prompt_version" (metrics_queries.METRIC_GROUPS)."""
        if end_us <= start_us:
            raise ValueError("end_us must be after start_us")
        groups = checked_groups(group_by)
        sql, params = metrics_sql(project_id, start_us, end_us, groups)
        rows = self.driver.query(sql, params)
        return [metrics_row(row, groups) for row in rows if int(row["span_count"]) > 0]

    def overview_metrics(
        self, project_id: str, start_us: int, end_us: int
    ) -> dict[str, list[dict[str, Any]]]:
        """:meth:`metrics` over ``[start_us, end_us)`` for the whole range ("totals", one row or
        none), per day ("daily") and per model ("by_model"), computed in one pass."""
        if end_us <= start_us:
            raise ValueError("end_us must be after start_us")
        params = {"project_id": project_id, "start_us": start_us, "end_us": end_us}
        return overview_rows(self.driver.query(OVERVIEW_SQL, params))

    def list_traces_by_score(
        self,
        project_id: str,
        filters: TraceFilter,
        threshold: ScoreThreshold,
        *,
        limit: int = 50,
        cursor: str | None = None,
        sort: str = "start_time_desc",
    ) -> TracePage:
        """Like :meth:`list_traces`, keeping only traces with a score inside ``threshold``."""
        return self._trace_page(project_id, filters, threshold, limit, cursor, sort)

    def _trace_page(
        self,
        project_id: str,
        filters: TraceFilter,
        threshold: ScoreThreshold | None,
        limit: int,
        cursor: str | None,
        sort: str,
    ) -> TracePage:
        """Pick the page's traces (sort key and filters only, in the narrowest time window that
        holds a full page), then summarise just those."""
        order = sort_order(sort)
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}")
        after = decode_cursor(cursor, sort) if cursor else None
        estimates: list[Callable[[], int]] = []
        counted = selective_trace_count_sql(project_id, filters)
        if counted is not None:
            estimates.append(lambda: self._estimate(counted))
        if threshold is not None:
            # The scores table says cheaply how many traces can match at most: none, and the
            # page is empty without a scan of the spans; few, and narrow windows are skipped.
            scored = self._estimate(
                dashboard.threshold_trace_count_sql(project_id, filters, threshold)
            )
            if scored == 0:
                return TracePage(items=[], next_cursor=None)
            estimates.append(lambda: scored)
        expected = (lambda: min(estimate() for estimate in estimates)) if estimates else None
        for window in start_windows(filters, order, after, limit=limit, expected_traces=expected):
            if threshold is None:
                sql, params = list_traces_sql(project_id, window, order, limit + 1, after)
            else:
                sql, params = dashboard.scored_trace_list_sql(
                    project_id, window, threshold, order, limit + 1, after
                )
            page = self.driver.query(sql, params)
            if len(page) > limit:
                break
        if not page:
            return TracePage(items=[], next_cursor=None)
        summaries = self.driver.query(TRACE_SUMMARIES_SQL, trace_summaries_params(project_id, page))
        by_id = {row["trace_id"]: row for row in summaries}
        rows = [by_id[row["trace_id"]] for row in page]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(sort, rows[-1][order.item_key], rows[-1]["trace_id"])
        for row in rows:
            del row["cost_key"]
        return TracePage(items=rows, next_cursor=next_cursor)

    def _estimate(self, counted: tuple[str, dict[str, Any]]) -> int:
        """The ``traces`` figure of a trace-count estimate query."""
        return int(self.driver.query(*counted)[0]["traces"])

    def score_trends(self, project_id: str, start_us: int, end_us: int) -> list[dict[str, Any]]:
        """Per day, for hallucination scores (any ``hallucination*`` name, as ``metric``
        "hallucination") and faithfulness: score count, mean value and flagged count."""
        params = dashboard.range_params(project_id, start_us, end_us)
        return self.driver.query(dashboard.SCORE_TRENDS_SQL, params)

    def score_summary(self, project_id: str, start_us: int, end_us: int) -> list[dict[str, Any]]:
        """Per live score name in the range, each value type by its kind (see
        :func:`dashboard_queries.summary_row`): ``scores`` (all), ``value_types`` present;
        numeric ones: ``numeric_scores``, ``mean_value``, ``min_value``, ``max_value`` (None
        without numeric scores), ``labelled`` and a ``histogram`` over ten equal bins of [0, 1]
        (values outside go to the end bins); booleans: ``boolean_scores``, ``true_scores``,
        ``share_true``; categories: ``categories`` as ``{category, scores}``, most frequent
        first (at most MAX_SUMMARY_CATEGORIES; ``other_categories`` counts the rest's scores)."""
        params = dashboard.range_params(project_id, start_us, end_us)
        rows = self.driver.query(dashboard.SCORE_SUMMARY_SQL, params)
        return [dashboard.summary_row(row) for row in rows]

    def score_names(self, project_id: str) -> list[str]:
        """The distinct score names the project has."""
        rows = self.driver.query(dashboard.SCORE_NAMES_SQL, {"project_id": project_id})
        return [row["name"] for row in rows]

    def scores_by_trace(
        self, project_id: str, trace_ids: Sequence[str]
    ) -> dict[str, dict[str, float | str]]:
        """For each of ``trace_ids`` that has scores: score name -> the mean of its numeric and
        boolean values (a boolean's mean is its share of true), or, for a name holding only
        categories, its categories joined by ", " (never a mean of their stored 0)."""
        if not trace_ids:
            return {}
        rows = self.driver.query(
            dashboard.TRACE_LIST_SCORES_SQL,
            {"project_id": project_id, "trace_ids": list(trace_ids)},
        )
        result: dict[str, dict[str, float | str]] = {}
        for row in rows:
            mean = row["mean_value"]
            shown = ", ".join(row["categories"]) if mean is None else float(mean)
            result.setdefault(row["trace_id"], {})[row["name"]] = shown
        return result

    def trace_scores(self, project_id: str, trace_id: str) -> list[dict[str, Any]]:
        """Every score of the trace (``span_id`` '' for trace-level scores), with the judge's
        reason and evidence text, and a person's value type, category, author and comment."""
        return self.driver.query(
            dashboard.TRACE_SCORES_SQL, {"project_id": project_id, "trace_id": trace_id}
        )
