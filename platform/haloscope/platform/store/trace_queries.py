"""SQL of the trace list and trace detail. Only constant fragments are assembled here; every
value, user-supplied or not, is a bound ``{name:Type}`` parameter. Reads use FINAL so re-sent
spans count once before ReplacingMergeTree has merged them."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from haloscope.platform.store.base import SPAN_COLUMNS
from haloscope.platform.store.encoding import TIMES_READ_AS
from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.metrics_queries import FINAL_SETTINGS
from haloscope.platform.store.pagination import SortOrder

# The longest a trace may run: every span of a trace starts less than this after the trace's
# first span. A listing over a time range reads only spans starting within this margin of the
# range, so its cost follows the range; a longer trace crossing the range's start would be
# summarised from its in-margin spans only.
MAX_TRACE_DURATION_US = 24 * 3600 * 1_000_000

# get_trace's select list: the time columns as integer µs.
SPAN_SELECT = ", ".join(
    f"toUnixTimestamp64Micro({c}) AS {TIMES_READ_AS[c]}" if c in TIMES_READ_AS else c
    for c in SPAN_COLUMNS
)

TRACE_SPANS_SQL = (
    f"SELECT {SPAN_SELECT}, duration_us FROM spans FINAL "  # noqa: S608 - constant column list
    "WHERE project_id = {project_id:String} AND trace_id = {trace_id:String} "
    "ORDER BY start_time, span_id "
    f"{FINAL_SETTINGS}"
)

# One trace summarised from its spans: the trace list's page and items, and the per-trace
# rollup of the sessions and users lists (a subquery whose unused columns ClickHouse drops).
TRACE_AGGREGATES = """
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
    arraySort(groupUniqArrayArray(tags)) AS trace_tags"""

_AGGREGATE_SELECT = f"\nSELECT{TRACE_AGGREGATES}\nFROM spans FINAL\n"

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


def _trace_conditions(flt: TraceFilter, params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """HAVING conditions over the per-trace aggregate, and conditions on single spans that
    every matching trace has a span meeting (one each, used to prefilter candidate traces)."""
    having: list[str] = []
    some_span: list[str] = []
    span_match = _span_match(flt, params)
    if span_match:
        # Every span of a trace starting in the range starts after the range's start: the match
        # (the text search above all) need not run on the margin's spans; short-circuit skips.
        if flt.start_us is not None:
            params["start_us"] = flt.start_us
            in_range = "start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')"
            having.append(f"countIf({in_range} AND {span_match}) > 0")
        else:
            having.append(f"countIf({span_match}) > 0")
        if not flt.search:  # reading the input and output text twice costs more than it saves
            some_span.append(span_match)
    for field in ("user_id", "session_id", "release"):
        value = getattr(flt, field)
        if value is not None:
            params[field] = value
            having.append(f"countIf({field} = {{{field}:String}}) > 0")
            some_span.append(f"{field} = {{{field}:String}}")
    for condition in _metadata_matches(flt, params):
        having.append(f"countIf({condition}) > 0")
        some_span.append(condition)
    if flt.tags:
        params["tags"] = list(flt.tags)
        having.append("hasAll(trace_tags, {tags:Array(String)})")
    having.extend(_trace_bounds(flt, params))
    if flt.status is not None:
        having.append("error_count > 0" if flt.status == "error" else "error_count = 0")
        if flt.status == "error":
            some_span.append("status = 'error'")
    range_bounds = []
    if flt.start_us is not None:
        params["start_us"] = flt.start_us
        having.append("trace_start >= {start_us:Int64}")
        range_bounds.append("start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')")
    if flt.end_us is not None:
        params["end_us"] = flt.end_us
        having.append("trace_start < {end_us:Int64}")
        range_bounds.append("start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')")
    if range_bounds and not some_span:  # beside another prefilter, its large set only costs
        some_span.append(" AND ".join(range_bounds))
    return having, some_span


def _metadata_matches(flt: TraceFilter, params: dict[str, Any]) -> list[str]:
    """One condition on a single span per metadata filter: the key present (with the value,
    for a ``key=value`` pair). Keys and values are bound parameters like every other value."""
    conditions = []
    for index, (key, value) in enumerate(flt.metadata):
        params[f"metadata_key_{index}"], params[f"metadata_value_{index}"] = key, value
        conditions.append(
            f"mapContains(metadata, {{metadata_key_{index}:String}})"
            f" AND metadata[{{metadata_key_{index}:String}}] = {{metadata_value_{index}:String}}"
        )
    for index, key in enumerate(flt.metadata_exists):
        params[f"metadata_exists_{index}"] = key
        conditions.append(f"mapContains(metadata, {{metadata_exists_{index}:String}})")
    return conditions


# The per-trace aggregate's duration and cost, and the parameter types of their bounds.
_TRACE_MEASURES = (
    ("duration_us", "(trace_end - trace_start)", "Int64"),
    ("cost", "toFloat64(cost_exact)", "Float64"),
)


def _trace_bounds(flt: TraceFilter, params: dict[str, Any]) -> list[str]:
    """HAVING conditions for the trace's duration and cost bounds (inclusive)."""
    conditions = []
    for name, expression, param_type in _TRACE_MEASURES:
        for side, operator in (("min", ">="), ("max", "<=")):
            value = getattr(flt, f"{side}_{name}")
            if value is not None:
                params[f"{side}_{name}"] = value
                conditions.append(f"{expression} {operator} {{{side}_{name}:{param_type}}}")
    return conditions


def _time_bounds(
    params: dict[str, Any], column: str, name: str, start_us: int | None, end_us: int | None
) -> list[str]:
    """``column`` within ``[start_us, end_us)`` (µs; a None side stays open), the bounds bound
    as ``{name}_start_us`` and ``{name}_end_us``."""
    bounds = []
    for side, value, operator in (("start", start_us, ">="), ("end", end_us, "<")):
        if value is not None:
            param = f"{name}_{side}_us"
            params[param] = value
            bounds.append(f"{column} {operator} fromUnixTimestamp64Micro({{{param}:Int64}}, 'UTC')")
    return bounds


def _past_end(flt: TraceFilter) -> int | None:
    """MAX_TRACE_DURATION_US after the range's end, where a trace starting in it has ended."""
    return None if flt.end_us is None else flt.end_us + MAX_TRACE_DURATION_US


def scan_bounds(flt: TraceFilter, params: dict[str, Any], column: str = "start_time") -> list[str]:
    """Bounds on the span start times the aggregate reads: a trace starting in the range has
    all its spans within MAX_TRACE_DURATION_US after the range's start and before its end, and a
    trace starting earlier has a span inside the margin before the range, which HAVING sees.
    ``column`` names another table's copy of the span start (the scores' ``timestamp``)."""
    start = None if flt.start_us is None else flt.start_us - MAX_TRACE_DURATION_US
    return _time_bounds(params, column, "scan", start, _past_end(flt))


def candidate_bounds(flt: TraceFilter, params: dict[str, Any]) -> list[str]:
    """Bounds on the span start times where a trace starting in the range has all its spans:
    from the range's start to MAX_TRACE_DURATION_US after its end. Narrower than the scan, whose
    margin before the range only serves to see the earlier start of traces begun before it."""
    bounds = _time_bounds(params, "start_time", "candidate", flt.start_us, _past_end(flt))
    return ["project_id = {project_id:String}", *bounds]


def candidate_traces(bounds: list[str], span_condition: str) -> str:
    """Traces with a span meeting ``span_condition`` within ``bounds``: a superset of the
    matching ones (read without FINAL), cheap to find, that lets the exact aggregate read only
    their granules (idx_trace_granule rules out the others in each day of the scan)."""
    where = " AND ".join([*bounds, span_condition])
    return f"trace_id IN (SELECT trace_id FROM spans WHERE {where})"  # noqa: S608


# The first window a start-time-sorted page is looked for in, and how much each retry widens it.
FIRST_WINDOW_US = 3600 * 1_000_000
WINDOW_GROWTH = 8


def start_windows(
    flt: TraceFilter,
    order: SortOrder,
    after: tuple[Any, str] | None,
    *,
    limit: int = 0,
    expected_traces: Callable[[], int] | None = None,
) -> Iterator[TraceFilter]:
    """Ever wider filters for a start-time-sorted page over a bounded range, each covering the
    sort's side of the range (the newest starts for a descending sort), the last one the whole
    range. Traces starting inside a window come before every trace starting outside it, so a
    window holding a full page yields exactly the page the whole range would; cheaper, as the
    scan follows the window. Yields just ``flt`` for other sorts or an unbounded range.

    ``expected_traces`` (called once, only when there are windows) estimates how many traces
    of the whole range match: a window expected to hold at most ``limit`` of them, at that
    density, is skipped. The estimate only decides which windows are tried, never the result."""
    if order.item_key != "start_time" or flt.start_us is None or flt.end_us is None:
        yield flt
        return
    low, high = flt.start_us, flt.end_us
    if after is not None:
        if order.descending:
            high = min(high, int(after[0]) + 1)
        else:
            low = max(low, int(after[0]))
    width = FIRST_WINDOW_US
    density: float | None = None
    while high - low > width:
        if density is None:
            expected = expected_traces() if expected_traces is not None else None
            density = math.inf if expected is None else expected / (flt.end_us - flt.start_us)
        if density * width > limit:
            if order.descending:
                yield dataclasses.replace(flt, start_us=high - width, end_us=high)
            else:
                yield dataclasses.replace(flt, start_us=low, end_us=low + width)
        width *= WINDOW_GROWTH
    yield flt


# Filters selective enough that counting their traces first pays for itself.
SELECTIVE_FIELDS = ("user_id", "session_id")


def selective_trace_count_sql(
    project_id: str, flt: TraceFilter
) -> tuple[str, dict[str, Any]] | None:
    """For a filter on a user or a session: an approximate count (``traces``) of the traces
    with a span of theirs where the range's traces have their spans (read without FINAL: a
    superset of the matches, through the bloom-filter indexes); None for other filters."""
    fields = [field for field in SELECTIVE_FIELDS if getattr(flt, field) is not None]
    if not fields:
        return None
    params: dict[str, Any] = {"project_id": project_id}
    params.update({field: getattr(flt, field) for field in fields})
    conditions = [f"{field} = {{{field}:String}}" for field in fields]
    where = " AND ".join([*candidate_bounds(flt, params), *conditions])
    return f"SELECT uniq(trace_id) AS traces FROM spans WHERE {where}", params  # noqa: S608


def list_traces_sql(
    project_id: str,
    flt: TraceFilter,
    order: SortOrder,
    limit: int,
    after: tuple[Any, str] | None,
    trace_conditions: Sequence[str] = (),
) -> tuple[str, dict[str, Any]]:
    """The page query: ``trace_id`` and ``trace_start`` (µs) of at most ``limit`` matching
    traces in page order. Only the aggregates that the filters and the sort key need are
    computed (ClickHouse drops the unused ones); :data:`TRACE_SUMMARIES_SQL` then summarises the
    page's traces. ``trace_conditions`` are further conditions on ``trace_id`` alone (their
    parameters are the caller's to add).

    Conditions on ``trace_id`` run as PREWHERE, before FINAL merges the rows: every version of
    a span has the same ``trace_id``, so dropping rows by it first leaves FINAL's choice intact
    (which a condition on any other column would not), and the other columns of the granules'
    other traces are never read."""
    params: dict[str, Any] = {"project_id": project_id, "limit": limit}
    having, some_span = _trace_conditions(flt, params)
    scan = ["project_id = {project_id:String}", *scan_bounds(flt, params)]
    bounds = candidate_bounds(flt, params)
    by_trace = [candidate_traces(bounds, condition) for condition in some_span]
    by_trace.extend(trace_conditions)
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
            "SELECT trace_id, trace_start FROM (",
            _AGGREGATE_SELECT,
            ("PREWHERE " + " AND ".join(by_trace)) if by_trace else "",
            "WHERE " + " AND ".join(scan),
            "GROUP BY trace_id",
            ("HAVING " + " AND ".join(having)) if having else "",
            ")",
            outer_where,
            f"ORDER BY {order.expression} {direction}, trace_id {direction}",
            "LIMIT {limit:UInt32}",
            FINAL_SETTINGS,
        ]
    )
    return sql, params


# The page's items: every span of the listed traces, read between the earliest trace start and
# MAX_TRACE_DURATION_US after the latest, so the scan stays small whatever the listed range.
TRACE_SUMMARIES_SQL = "\n".join(
    [
        _ITEM_SELECT,
        _AGGREGATE_SELECT,
        "PREWHERE has({trace_ids:Array(String)}, trace_id)",
        "WHERE project_id = {project_id:String}",
        "AND start_time >= fromUnixTimestamp64Micro({first_start_us:Int64}, 'UTC')",
        "AND start_time < fromUnixTimestamp64Micro({scan_end_us:Int64}, 'UTC')",
        "GROUP BY trace_id",
        ")",
        FINAL_SETTINGS,
    ]
)


def trace_summaries_params(project_id: str, page: list[dict[str, Any]]) -> dict[str, Any]:
    """TRACE_SUMMARIES_SQL's parameters for the rows of a :func:`list_traces_sql` page."""
    starts = [int(row["trace_start"]) for row in page]
    return {
        "project_id": project_id,
        "trace_ids": [row["trace_id"] for row in page],
        "first_start_us": min(starts),
        "scan_end_us": max(starts) + MAX_TRACE_DURATION_US,
    }
