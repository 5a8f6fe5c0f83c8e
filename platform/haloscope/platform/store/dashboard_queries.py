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
from haloscope.platform.store.trace_queries import list_traces_sql, scan_bounds

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

SCORE_SUMMARY_SQL = f"""
SELECT
    name,
    count() AS scores,
    avg(value) AS mean_value,
    min(value) AS min_value,
    max(value) AS max_value,
    countIf(label != '') AS labelled,
    arrayMap(b -> countEqual(groupArray(bin), b), range({HISTOGRAM_BINS})) AS histogram
FROM (
    SELECT name, value, label,
           toUInt8(least({HISTOGRAM_BINS - 1}, greatest(0, floor(value * {HISTOGRAM_BINS})))) AS bin
    FROM scores FINAL
    WHERE {_SCORE_RANGE}
)
GROUP BY name
ORDER BY name
"""  # noqa: S608 - constant fragments only

SCORE_NAMES_SQL = """
SELECT DISTINCT name FROM scores WHERE project_id = {project_id:String} ORDER BY name
"""

TRACE_LIST_SCORES_SQL = """
SELECT trace_id, name, avg(value) AS mean_value, count() AS scores
FROM scores FINAL
WHERE project_id = {project_id:String} AND has({trace_ids:Array(String)}, trace_id)
  AND deleted = 0
GROUP BY trace_id, name
ORDER BY trace_id, name
"""

TRACE_SCORES_SQL = """
SELECT span_id, name, evaluator_version, value, label, reason, evidence, source,
       sampling_run_id, toUnixTimestamp64Micro(created_at) AS created_us
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


def _threshold_subquery(flt: TraceFilter, threshold: ScoreThreshold, params: dict[str, Any]) -> str:
    """The traces holding a score inside ``threshold``, as a condition on ``trace_id``. A
    score's timestamp is its span's start, so it lies in the trace list's span scan bounds."""
    conditions = ["project_id = {project_id:String}", "name = {score_name:String}", "deleted = 0"]
    params["score_name"] = threshold.name
    if threshold.minimum is not None:
        params["score_min"] = threshold.minimum
        conditions.append("value >= {score_min:Float64}")
    if threshold.maximum is not None:
        params["score_max"] = threshold.maximum
        conditions.append("value <= {score_max:Float64}")
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


def range_params(project_id: str, start_us: int, end_us: int) -> dict[str, Any]:
    """Parameters of the score queries over ``[start_us, end_us)``; ValueError if empty."""
    if end_us <= start_us:
        raise ValueError("end_us must be after start_us")
    return {"project_id": project_id, "start_us": start_us, "end_us": end_us}
