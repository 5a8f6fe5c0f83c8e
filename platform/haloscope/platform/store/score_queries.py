"""SQL of the score API: the targets' start times, the score list and one score by id. Only
constant fragments are assembled here; every value is a bound ``{name:Type}`` parameter. Reads
use FINAL, so a re-sent score and a deleted one (a newer tombstone row) count as their newest
row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haloscope.platform.store.base import SCORE_COLUMNS
from haloscope.platform.store.pagination import SortOrder

# A score's id: its score_id (API scores), else a hash of a judge row's identity.
SCORE_ID = (
    "if(score_id != '', score_id, lower(hex(MD5(concat(trace_id, '\\0', span_id, '\\0', "
    "name, '\\0', evaluator_version)))))"
)
SCORE_SORTS: dict[str, SortOrder] = {
    "timestamp_desc": SortOrder("timestamp_us", "Int64", True, "timestamp_us"),
}
_READ_AS = {"timestamp": "toUnixTimestamp64Micro(timestamp) AS timestamp_us"}
SCORE_SELECT = ", ".join(
    [
        *(_READ_AS.get(column, column) for column in SCORE_COLUMNS),
        "toUnixTimestamp64Micro(created_at) AS created_us",
        f"{SCORE_ID} AS id",
    ]
)

# The start of every span of the given traces (read without FINAL: a re-sent span starts at the
# same time), through the trace-id bloom filters.
TARGET_STARTS_SQL = """
SELECT trace_id, span_id, toUnixTimestamp64Micro(start_time) AS start_us
FROM spans
PREWHERE has({trace_ids:Array(String)}, trace_id)
WHERE project_id = {project_id:String}
"""

SCORE_BY_ID_SQL = (
    f"SELECT {SCORE_SELECT} FROM scores FINAL "  # noqa: S608 - constant column list
    "WHERE project_id = {project_id:String} AND deleted = 0 AND "
    "(score_id = {id:String} OR (score_id = '' AND " + SCORE_ID + " = {id:String}))"
)


@dataclass(frozen=True)
class ScoreFilter:
    """Which scores to list; every field left at its default matches every live score.

    ``start_us``/``end_us`` bound the score's timestamp (its target's start time, half-open);
    ``min_value``/``max_value`` its numeric value (inclusive); ``deleted`` lists the tombstones
    of deleted scores instead (the audit trail)."""

    names: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    trace_id: str | None = None
    span_id: str | None = None
    author: str | None = None
    start_us: int | None = None
    end_us: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    deleted: bool = False

    def __post_init__(self) -> None:
        if self.start_us is not None and self.end_us is not None and self.end_us <= self.start_us:
            raise ValueError("end must be after start")
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value > self.max_value
        ):
            raise ValueError("min_value must not exceed max_value")


def _score_conditions(project_id: str, flt: ScoreFilter) -> tuple[list[str], dict[str, Any]]:
    """The WHERE conditions of the scores matching ``flt`` and their parameters."""
    params: dict[str, Any] = {"project_id": project_id, "deleted": int(flt.deleted)}
    where = ["project_id = {project_id:String}", "deleted = {deleted:UInt8}"]
    for field, column in (("names", "name"), ("sources", "source")):
        if getattr(flt, field):
            params[field] = list(getattr(flt, field))
            where.append(f"has({{{field}:Array(String)}}, {column})")
    for field in ("trace_id", "span_id", "author"):
        if getattr(flt, field) is not None:
            params[field] = getattr(flt, field)
            where.append(f"{field} = {{{field}:String}}")
    for field, condition in (
        ("start_us", "timestamp >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')"),
        ("end_us", "timestamp < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')"),
        ("min_value", "value >= {min_value:Float64}"),
        ("max_value", "value <= {max_value:Float64}"),
    ):
        if getattr(flt, field) is not None:
            params[field] = getattr(flt, field)
            where.append(condition)
    return where, params


def list_scores_sql(
    project_id: str, flt: ScoreFilter, limit: int, after: tuple[int, str] | None
) -> tuple[str, dict[str, Any]]:
    """At most ``limit`` scores matching ``flt``, newest timestamp first, then by id
    descending, strictly after the keyset position ``after`` (timestamp µs, id)."""
    where, params = _score_conditions(project_id, flt)
    params["limit"] = limit
    if after is not None:
        params["after_key"], params["after_id"] = after
        # The first bound is implied by the second; on the sorting key's day and the monthly
        # partitions, it lets a later page skip the days after the cursor.
        where.append("timestamp <= fromUnixTimestamp64Micro({after_key:Int64}, 'UTC')")
        where.append("(timestamp_us, id) < ({after_key:Int64}, {after_id:String})")
    sql = (
        f"SELECT {SCORE_SELECT} FROM scores FINAL WHERE {' AND '.join(where)} "  # noqa: S608
        "ORDER BY timestamp_us DESC, id DESC LIMIT {limit:UInt32}"
    )
    return sql, params


_SPAN_SELECT = (
    "SELECT count() AS scores, toUnixTimestamp64Micro(min(timestamp)) AS first_us, "
    "toUnixTimestamp64Micro(max(timestamp)) AS last_us FROM scores"
)


def score_span_sql(project_id: str, flt: ScoreFilter) -> tuple[str, dict[str, Any]]:
    """The number of score rows matching ``flt`` (``scores``) and the first and last of their
    timestamps (µs), read without FINAL: a replaced or deleted score's older row may count, so
    ``scores`` bounds the matches from above (the export uses it to size its time windows)."""
    where, params = _score_conditions(project_id, flt)
    where_sql = " AND ".join(where)
    sql = f"{_SPAN_SELECT} WHERE {where_sql}"  # noqa: S608 - constant fragments
    return sql, params
