"""SQL behind the dashboard pages that the trace API does not already answer: score trends,
score summaries and distributions, scores of listed traces and of one trace, and the trace list
restricted by a score threshold.

Every query is scoped by ``project_id = {project_id:String}``, reads with FINAL (a re-run
evaluator or a re-sent span counts once before ReplacingMergeTree merges), skips deleted
scores (``deleted = 0``, see 0007_human_scores.sql) and binds every value as a ``{name:Type}``
parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.pagination import SortOrder
from haloscope.platform.store.trace_queries import (
    MAX_TRACE_DURATION_US,
    list_traces_sql,
    scan_bounds,
)

HISTOGRAM_BINS = 10

_SCORE_RANGE = (
    "project_id = {project_id:String} AND deleted = 0"
    " AND timestamp >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')"
    " AND timestamp < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')"
)

# A hallucination score counts as flagged when its label says so; unlabelled scores are the
# probability of a hallucination and count from 0.5 up.
_FLAGGED = "(label = 'hallucinated' OR (label = '' AND value >= 0.5))"

SCORE_TRENDS_SQL = f"""
SELECT
    toString(toDate(timestamp)) AS day,
    if(startsWith(name, 'hallucination'), 'hallucination', name) AS metric,
    count() AS scores,
    avg(value) AS mean_value,
    countIf({_FLAGGED}) AS flagged
FROM scores FINAL
WHERE {_SCORE_RANGE} AND (startsWith(name, 'hallucination') OR name = 'faithfulness')
GROUP BY day, metric
ORDER BY day, metric
"""  # noqa: S608 - constant fragments only

# Per score name, each value type summarised by its kind: numbers by mean, range and a
# histogram over ten bins of [0, 1] (values outside go to the end bins); booleans (stored 1/0)
# by the count of true; categories (stored with value 0) by their counts. Judge rows are
# numeric. Deleted scores are skipped (``deleted = 0`` after FINAL).
SCORE_SUMMARY_SQL = f"""
SELECT
    name,
    count() AS scores,
    countIf(value_type = 'numeric') AS numeric_scores,
    if(numeric_scores > 0, avgIf(value, value_type = 'numeric'), NULL) AS mean_value,
    if(numeric_scores > 0, minIf(value, value_type = 'numeric'), NULL) AS min_value,
    if(numeric_scores > 0, maxIf(value, value_type = 'numeric'), NULL) AS max_value,
    countIf(label != '') AS labelled,
    arrayMap(b -> countEqual(groupArrayIf(bin, value_type = 'numeric'), b),
             range({HISTOGRAM_BINS})) AS histogram,
    countIf(value_type = 'boolean') AS boolean_scores,
    countIf(value_type = 'boolean' AND value != 0) AS true_scores,
    sumMapIf([string_value], [toUInt64(1)], value_type = 'categorical') AS categories
FROM (
    SELECT name, value, label, value_type, string_value,
           toUInt8(least({HISTOGRAM_BINS - 1}, greatest(0, floor(value * {HISTOGRAM_BINS})))) AS bin
    FROM scores FINAL
    WHERE {_SCORE_RANGE}
)
GROUP BY name
ORDER BY name
"""  # noqa: S608 - constant fragments only

# The most categories a score summary lists by name; the rest are counted together.
MAX_SUMMARY_CATEGORIES = 20


def summary_row(row: dict[str, Any]) -> dict[str, Any]:
    """A SCORE_SUMMARY_SQL row for display: the value types present, the share of true
    booleans, and the categories as ``{category, scores}`` by count (then name), the first
    MAX_SUMMARY_CATEGORIES of them, ``other_categories`` counting the rest's scores."""
    names, counts = row.pop("categories")
    ranked = sorted(zip(names, map(int, counts), strict=True), key=lambda c: (-c[1], c[0]))
    booleans, numbers = int(row["boolean_scores"]), int(row["numeric_scores"])
    categorical = sum(count for _, count in ranked)
    kept = ranked[:MAX_SUMMARY_CATEGORIES]
    return {
        **row,
        "value_types": [
            kind
            for kind, count in (
                ("numeric", numbers),
                ("boolean", booleans),
                ("categorical", categorical),
            )
            if count
        ],
        "share_true": int(row["true_scores"]) / booleans if booleans else None,
        "categorical_scores": categorical,
        "categories": [{"category": name, "scores": count} for name, count in kept],
        "other_categories": categorical - sum(count for _, count in kept),
    }


SCORE_NAMES_SQL = """
SELECT DISTINCT name FROM scores WHERE project_id = {project_id:String} ORDER BY name
"""

# Per listed trace and score name: the mean of its numbers and booleans (the share of true),
# and its categories (a category is stored with value 0, which must not pull a mean down).
TRACE_LIST_SCORES_SQL = """
SELECT trace_id, name,
       if(countIf(value_type != 'categorical') > 0, avgIf(value, value_type != 'categorical'),
          NULL) AS mean_value,
       arraySort(groupUniqArrayIf(string_value, value_type = 'categorical')) AS categories,
       count() AS scores
FROM scores FINAL
WHERE project_id = {project_id:String} AND has({trace_ids:Array(String)}, trace_id)
  AND deleted = 0
GROUP BY trace_id, name
ORDER BY trace_id, name
"""

TRACE_SCORES_SQL = """
SELECT span_id, name, evaluator_version, value, label, reason, evidence, source,
       sampling_run_id, toUnixTimestamp64Micro(created_at) AS created_us,
       value_type, string_value, author, comment
FROM scores FINAL
WHERE project_id = {project_id:String} AND trace_id = {trace_id:String} AND deleted = 0
ORDER BY span_id, name, evaluator_version
"""


@dataclass(frozen=True)
class ScoreThreshold:
    """Keep traces having a score called ``name`` whose value lies in ``[minimum, maximum]``
    (either bound may be None)."""

    name: str
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a score threshold needs a score name")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError("score minimum must not exceed the maximum")


def _threshold_conditions(threshold: ScoreThreshold, params: dict[str, Any]) -> list[str]:
    """A live score of the project inside ``threshold``: its name (the sorting key's third
    column, after the project and the day) and value bounds."""
    conditions = ["project_id = {project_id:String}", "name = {score_name:String}", "deleted = 0"]
    params["score_name"] = threshold.name
    if threshold.minimum is not None:
        params["score_min"] = threshold.minimum
        conditions.append("value >= {score_min:Float64}")
    if threshold.maximum is not None:
        params["score_max"] = threshold.maximum
        conditions.append("value <= {score_max:Float64}")
    return conditions


def _threshold_subquery(flt: TraceFilter, threshold: ScoreThreshold, params: dict[str, Any]) -> str:
    """The traces holding a score inside ``threshold``, as a condition on ``trace_id``. A
    score's timestamp is its span's start, so it lies in the trace list's span scan bounds."""
    conditions = _threshold_conditions(threshold, params)
    conditions.extend(scan_bounds(flt, params, "timestamp"))
    where = " AND ".join(conditions)  # constant fragments; the values are bound parameters
    return f"trace_id IN (SELECT trace_id FROM scores FINAL WHERE {where})"  # noqa: S608


def scored_trace_list_sql(
    project_id: str,
    flt: TraceFilter,
    threshold: ScoreThreshold,
    order: SortOrder,
    limit: int,
    after: tuple[Any, str] | None,
) -> tuple[str, dict[str, Any]]:
    """The page query of ``list_traces_sql`` limited to traces with a score in the threshold's
    range (same columns, order and keyset pagination)."""
    params: dict[str, Any] = {}
    condition = _threshold_subquery(flt, threshold, params)
    sql, list_params = list_traces_sql(project_id, flt, order, limit, after, [condition])
    return sql, {**list_params, **params}


def threshold_trace_count_sql(
    project_id: str, flt: TraceFilter, threshold: ScoreThreshold
) -> tuple[str, dict[str, Any]]:
    """An estimate (``traces``) of the traces starting in ``flt``'s range with a score inside
    ``threshold``, from the ``scores`` table alone (its sorting key: project, day, name). Read
    without FINAL, a re-sent or deleted score's older row may still count, so the estimate
    never falls below the matching traces, and it is 0 only when none match. A trace starting
    in the range has its spans, so its scores' timestamps, between the range's start and
    MAX_TRACE_DURATION_US after its end."""
    params: dict[str, Any] = {"project_id": project_id}
    conditions = _threshold_conditions(threshold, params)
    if flt.start_us is not None:
        params["count_start_us"] = flt.start_us
        conditions.append("timestamp >= fromUnixTimestamp64Micro({count_start_us:Int64}, 'UTC')")
    if flt.end_us is not None:
        params["count_end_us"] = flt.end_us + MAX_TRACE_DURATION_US
        conditions.append("timestamp < fromUnixTimestamp64Micro({count_end_us:Int64}, 'UTC')")
    where = " AND ".join(conditions)  # constant fragments; the values are bound parameters
    return f"SELECT uniq(trace_id) AS traces FROM scores WHERE {where}", params  # noqa: S608


def range_params(project_id: str, start_us: int, end_us: int) -> dict[str, Any]:
    """Parameters of the score queries over ``[start_us, end_us)``; ValueError if empty."""
    if end_us <= start_us:
        raise ValueError("end_us must be after start_us")
    return {"project_id": project_id, "start_us": start_us, "end_us": end_us}
