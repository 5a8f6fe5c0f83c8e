"""SQL of the trace list and trace detail. Only constant fragments are assembled here; every
value, user-supplied or not, is a bound ``{name:Type}`` parameter. Reads use FINAL so re-sent
spans count once before ReplacingMergeTree has merged them."""

from __future__ import annotations

from typing import Any

from haloscope.platform.store.base import SPAN_COLUMNS
from haloscope.platform.store.encoding import TIMES_READ_AS
from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.pagination import SortOrder

# get_trace's select list: the time columns as integer µs.
SPAN_SELECT = ", ".join(
    f"toUnixTimestamp64Micro({c}) AS {TIMES_READ_AS[c]}" if c in TIMES_READ_AS else c
    for c in SPAN_COLUMNS
)

TRACE_SPANS_SQL = (
    f"SELECT {SPAN_SELECT}, duration_us FROM spans FINAL "  # noqa: S608 - constant column list
    "WHERE project_id = {project_id:String} AND trace_id = {trace_id:String} "
    "ORDER BY start_time, span_id"
)

_AGGREGATE_SELECT = """
SELECT
    trace_id,
    if(countIf(parent_span_id = '') > 0,
       argMinIf(name, start_time, parent_span_id = ''),
       argMin(name, start_time)) AS trace_name,
    toUnixTimestamp64Micro(min(start_time)) AS trace_start,
    toUnixTimestamp64Micro(max(end_time)) AS trace_end,
    count() AS span_count,
    countIf(status = 'error') AS error_count,
    sum(prompt_tokens) AS sum_prompt_tokens,
    sum(completion_tokens) AS sum_completion_tokens,
    sum(total_tokens) AS sum_total_tokens,
    sum(toDecimal128(cost, 12)) AS cost_exact,
    arraySort(groupUniqArrayIf(model, model != '')) AS trace_models,
    argMinIf(user_id, start_time, user_id != '') AS trace_user_id,
    argMinIf(session_id, start_time, session_id != '') AS trace_session_id,
    argMinIf(release, start_time, release != '') AS trace_release,
    arraySort(groupUniqArrayArray(tags)) AS trace_tags
FROM spans FINAL
"""

_ITEM_SELECT = """
SELECT
    trace_id,
    trace_name AS name,
    trace_start AS start_time,
    trace_end AS end_time,
    trace_end - trace_start AS duration_us,
    span_count,
    if(error_count > 0, 'error', 'ok') AS status,
    error_count,
    sum_prompt_tokens AS prompt_tokens,
    sum_completion_tokens AS completion_tokens,
    sum_total_tokens AS total_tokens,
    toFloat64(cost_exact) AS cost,
    toString(cost_exact) AS cost_key,
    trace_models AS models,
    trace_user_id AS user_id,
    trace_session_id AS session_id,
    trace_release AS release,
    trace_tags AS tags
FROM (
"""

_SEARCH = (
    "(positionCaseInsensitiveUTF8(input, {search:String}) > 0"
    " OR positionCaseInsensitiveUTF8(output, {search:String}) > 0)"
)


def _span_match(flt: TraceFilter, params: dict[str, Any]) -> str | None:
    """The condition one span must meet for the span-attribute filters, or None."""
    parts = []
    for field, column in (("kinds", "kind"), ("names", "name"), ("models", "model")):
        values = getattr(flt, field)
        if values:
            params[field] = list(values)
            parts.append(f"has({{{field}:Array(String)}}, {column})")
    if flt.search:
        params["search"] = flt.search
        parts.append(_SEARCH)
    return " AND ".join(parts) if parts else None


def _trace_conditions(flt: TraceFilter, params: dict[str, Any]) -> list[str]:
    """HAVING conditions over the per-trace aggregate."""
    having = []
    span_match = _span_match(flt, params)
    if span_match:
        having.append(f"countIf({span_match}) > 0")
    for field in ("user_id", "session_id", "release"):
        value = getattr(flt, field)
        if value is not None:
            params[field] = value
            having.append(f"countIf({field} = {{{field}:String}}) > 0")
    if flt.tags:
        params["tags"] = list(flt.tags)
        having.append("hasAll(trace_tags, {tags:Array(String)})")
    if flt.status is not None:
        having.append("error_count > 0" if flt.status == "error" else "error_count = 0")
    if flt.start_us is not None:
        params["start_us"] = flt.start_us
        having.append("trace_start >= {start_us:Int64}")
    if flt.end_us is not None:
        params["end_us"] = flt.end_us
        having.append("trace_start < {end_us:Int64}")
    return having


_CANDIDATES_HEAD = "trace_id IN (SELECT trace_id FROM spans WHERE project_id = {project_id:String}"


def _candidate_traces(flt: TraceFilter) -> str | None:
    """With a time range, only traces having a span that starts inside it can start inside it:
    a cheap prefilter on the sorting key before the exact check on the trace start."""
    bounds = []
    if flt.start_us is not None:
        bounds.append("start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')")
    if flt.end_us is not None:
        bounds.append("start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')")
    if not bounds:
        return None
    return " AND ".join([_CANDIDATES_HEAD, *bounds]) + ")"


def list_traces_sql(
    project_id: str,
    flt: TraceFilter,
    order: SortOrder,
    limit: int,
    after: tuple[Any, str] | None,
) -> tuple[str, dict[str, Any]]:
    """The page query (``limit`` rows at most) and its parameters."""
    params: dict[str, Any] = {"project_id": project_id, "limit": limit}
    having = _trace_conditions(flt, params)
    where = ["project_id = {project_id:String}"]
    candidates = _candidate_traces(flt)
    if candidates:
        where.append(candidates)
    direction = "DESC" if order.descending else "ASC"
    outer_where = ""
    if after is not None:
        params["after_key"], params["after_trace_id"] = after
        comparison = "<" if order.descending else ">"
        outer_where = (
            f"WHERE ({order.expression}, trace_id) {comparison} "
            f"({{after_key:{order.param_type}}}, {{after_trace_id:String}})"
        )
    sql = "\n".join(
        [
            _ITEM_SELECT,
            _AGGREGATE_SELECT,
            "WHERE " + " AND ".join(where),
            "GROUP BY trace_id",
            ("HAVING " + " AND ".join(having)) if having else "",
            ")",
            outer_where,
            f"ORDER BY {order.expression} {direction}, trace_id {direction}",
            "LIMIT {limit:UInt32}",
        ]
    )
    return sql, params
