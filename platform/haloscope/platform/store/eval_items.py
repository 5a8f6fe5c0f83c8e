"""EvalItemStore: the items of eval runs (the ``eval_items`` table, 0008_eval_items.sql).

Rows are written in batches (JSONEachRow) and read with ``FINAL``, so an upload sent again
replaces its rows. A run's items are listed in dataset order, ``(position, item_id)``, in keyset
pages whose cursor is the store's opaque token (``pagination.encode_cursor``). Every read and
write is scoped to one project.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from haloscope.platform.store.base import StoreDriver
from haloscope.platform.store.pagination import SortOrder, decode_cursor, encode_cursor

EVAL_ITEM_COLUMNS: tuple[str, ...] = (
    "project_id",
    "run_id",
    "item_id",
    "dataset",
    "dataset_version",
    "run_created_at",
    "position",
    "input",
    "expected_output",
    "output",
    "contexts",
    "tags",
    "metadata",
    "error",
    "cached",
    "latency_ms",
    "metric_names",
    "metric_scores",
    "metric_labels",
    "metric_reasons",
    "metric_latency_ms",
    "metric_errors",
)
# A row to insert: the values of EVAL_ITEM_COLUMNS in order (``evals.items.item_row``).
EvalItemRow = tuple[Any, ...]
ITEM_SORT = "position"
ITEM_SORTS = {ITEM_SORT: SortOrder("position", "UInt32", False, "position")}
MAX_ITEM_PAGE = 1000
# Rows per insert: each is one part for ClickHouse to merge, so a large upload is split only
# when it is very large.
INSERT_BATCH_ROWS = 10_000
_ENCODER = msgspec.json.Encoder()
# Every read: the project's rows, deduplicated (an upload sent again replaces its rows).
_SELECT_ITEMS = f"""
SELECT {", ".join(c for c in EVAL_ITEM_COLUMNS[1:] if c != "run_created_at")}
FROM eval_items FINAL
WHERE project_id = {{project_id:String}}"""  # noqa: S608 - constant fragments only
# What the compare page needs of every item of the runs, no text, as one row of flat arrays
# (one JSON document; lists of strings and numbers, which Python's garbage collector does not
# track): run, item, position, its tags joined by U+001F, and its scores of the metrics asked
# for, flattened item by item (NULL where it has none).
RUN_SCORES_SQL = """
SELECT groupArray(run_id) AS run_ids, groupArray(item_id) AS item_ids,
    groupArray(position) AS positions, groupArray(arrayStringConcat(tags, '\\x1F')) AS tags,
    arrayFlatten(groupArray(
        arrayMap(m -> metric_scores[indexOf(metric_names, m)], {metrics:Array(String)})
    )) AS scores
FROM eval_items FINAL
WHERE project_id = {project_id:String} AND run_id IN {run_ids:Array(String)}
"""
ITEMS_SQL = (
    _SELECT_ITEMS + " AND run_id IN {run_ids:Array(String)} AND item_id IN {item_ids:Array(String)}"
)
ACROSS_RUNS_SQL = (
    _SELECT_ITEMS + " AND item_id = {item_id:String} ORDER BY written_at DESC LIMIT {limit:UInt32}"
)
# What identifies the stored state of runs: rows and the newest write per run (without FINAL:
# an upload sent again or a merge changes it, so a cache keyed by it is never stale).
RUN_STAMPS_SQL = """
SELECT run_id, count() AS n, toUnixTimestamp64Micro(max(written_at)) AS newest
FROM eval_items
WHERE project_id = {project_id:String} AND run_id IN {run_ids:Array(String)}
GROUP BY run_id
"""
COUNT_SQL = """
SELECT count() AS n FROM eval_items FINAL
WHERE project_id = {project_id:String} AND run_id = {run_id:String}
"""


@dataclass(frozen=True)
class ItemFilter:
    """Which items of a run to list: carrying every tag in ``tags``; scored by ``metric``,
    its score within ``[min_score, max_score]`` when bounds are given. ValueError when a bound
    comes without a metric, is not finite, or the bounds are reversed."""

    tags: tuple[str, ...] = ()
    metric: str | None = None
    min_score: float | None = None
    max_score: float | None = None

    def __post_init__(self) -> None:
        bounds = [b for b in (self.min_score, self.max_score) if b is not None]
        if bounds and not self.metric:
            raise ValueError("min_score and max_score need a metric")
        if any(not math.isfinite(b) for b in bounds):
            raise ValueError("score bounds must be finite numbers")
        if len(bounds) == 2 and bounds[0] > bounds[1]:
            raise ValueError("min_score is above max_score")

    def sql(self, params: dict[str, Any]) -> str:
        """The filter's ``AND ...`` conditions, its values added to ``params``."""
        conditions = []
        if self.tags:
            params["tags"] = list(self.tags)
            conditions.append("hasAll(tags, {tags:Array(String)})")
        if self.metric:
            params["metric"] = self.metric
            conditions.append("has(metric_names, {metric:String})")
            score = "metric_scores[indexOf(metric_names, {metric:String})]"
            if self.min_score is not None:
                params["min_score"] = float(self.min_score)
                conditions.append(f"{score} >= {{min_score:Float64}}")
            if self.max_score is not None:
                params["max_score"] = float(self.max_score)
                conditions.append(f"{score} <= {{max_score:Float64}}")
        return "".join(f" AND {c}" for c in conditions)


@dataclass(frozen=True)
class ItemPage:
    """One page of a run's items (rows as read); ``next_cursor`` is None on the last page."""

    rows: list[dict[str, Any]]
    next_cursor: str | None


def _page_sql(
    flt: ItemFilter, limit: int, after: tuple[int, str] | None, params: dict[str, Any]
) -> str:
    where = " AND run_id = {run_id:String}" + flt.sql(params)
    if after is not None:
        params["after_position"], params["after_item"] = after
        where += " AND (position, item_id) > ({after_position:UInt32}, {after_item:String})"
    params["limit"] = limit
    return f"{_SELECT_ITEMS}{where} ORDER BY position, item_id LIMIT {{limit:UInt32}}"


class EvalItemStore:
    """Eval run items over one driver."""

    def __init__(self, driver: StoreDriver) -> None:
        self.driver = driver

    def insert(self, rows: Sequence[EvalItemRow]) -> None:
        """Insert item rows (:data:`EvalItemRow`), as JSONCompactEachRow in inserts of at most
        INSERT_BATCH_ROWS; a row of a (project, run, item) already stored replaces it."""
        for start in range(0, len(rows), INSERT_BATCH_ROWS):
            payload = _ENCODER.encode_lines(rows[start : start + INSERT_BATCH_ROWS])
            self.driver.insert_formatted(
                "eval_items", EVAL_ITEM_COLUMNS, payload, "JSONCompactEachRow"
            )

    def page(
        self,
        project_id: str,
        run_id: str,
        flt: ItemFilter,
        *,
        limit: int = 100,
        cursor: str | None = None,
    ) -> ItemPage:
        """A page of the run's items matching ``flt`` in dataset order, after ``cursor``;
        ValueError for a bad limit or a cursor this list did not issue."""
        if not 1 <= limit <= MAX_ITEM_PAGE:
            raise ValueError(f"limit must be between 1 and {MAX_ITEM_PAGE}")
        after = decode_cursor(cursor, ITEM_SORT, ITEM_SORTS) if cursor else None
        params: dict[str, Any] = {"project_id": project_id, "run_id": run_id}
        rows = self.driver.query(_page_sql(flt, limit + 1, after, params), params)
        if len(rows) <= limit:
            return ItemPage(rows, None)
        rows = rows[:limit]
        last = rows[-1]
        return ItemPage(rows, encode_cursor(ITEM_SORT, int(last["position"]), last["item_id"]))

    def pages(
        self, project_id: str, run_id: str, flt: ItemFilter, page_size: int = MAX_ITEM_PAGE
    ) -> Iterator[list[dict[str, Any]]]:
        """Every item of the run matching ``flt`` in dataset order, as consecutive keyset pages
        (each one query, read when asked for)."""
        after: tuple[int, str] | None = None
        while True:
            params: dict[str, Any] = {"project_id": project_id, "run_id": run_id}
            rows = self.driver.query(_page_sql(flt, page_size, after, params), params)
            if rows:
                yield rows
            if len(rows) < page_size:
                return
            after = (int(rows[-1]["position"]), rows[-1]["item_id"])

    def run_scores(
        self, project_id: str, run_ids: Sequence[str], metrics: Sequence[str]
    ) -> dict[str, list[Any]]:
        """Every item of the runs as parallel lists: ``run_ids``, ``item_ids``, ``positions``,
        ``tags`` (joined by U+001F) and ``scores`` (flat: each item's score of each of
        ``metrics`` in turn, None where it has none)."""
        params = {"project_id": project_id, "run_ids": list(run_ids), "metrics": list(metrics)}
        return self.driver.query(RUN_SCORES_SQL, params)[0]

    def run_stamps(
        self, project_id: str, run_ids: Sequence[str]
    ) -> tuple[tuple[str, int, int], ...]:
        """Per run (sorted) its stored rows and newest write (µs): changes whenever the run's
        items do."""
        rows = self.driver.query(
            RUN_STAMPS_SQL, {"project_id": project_id, "run_ids": list(run_ids)}
        )
        return tuple(sorted((r["run_id"], int(r["n"]), int(r["newest"])) for r in rows))

    def items(
        self, project_id: str, run_ids: Sequence[str], item_ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        """The full rows of these items in these runs."""
        if not run_ids or not item_ids:
            return []
        params = {"project_id": project_id, "run_ids": list(run_ids), "item_ids": list(item_ids)}
        return self.driver.query(ITEMS_SQL, params)

    def across_runs(self, project_id: str, item_id: str, limit: int = 100) -> list[dict[str, Any]]:
        """The item ``item_id`` in every run of the project that has it (through the item's
        bloom filter index), newest write first."""
        params = {"project_id": project_id, "item_id": item_id, "limit": limit}
        return self.driver.query(ACROSS_RUNS_SQL, params)

    def count(self, project_id: str, run_id: str) -> int:
        """How many items of the run are stored."""
        rows = self.driver.query(COUNT_SQL, {"project_id": project_id, "run_id": run_id})
        return int(rows[0]["n"]) if rows else 0
