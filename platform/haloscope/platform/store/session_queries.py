"""SQL of the sessions and users lists and of one session read as a conversation.

Every figure is summed per trace first (a *trace rollup*, read with FINAL like the trace list),
then per session or user: a trace belongs to the session and the user named by its earliest
span that names one, so the spans a trace's root alone carries a session id for (OTel
instrumentations, SDK spans finished before ``update_current_trace``) still count with it. Only
constant fragments are assembled here; every value is a bound ``{name:Type}`` parameter, and
sort columns come from the fixed tables below, never from the request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from haloscope.platform.store.filters import TraceFilter
from haloscope.platform.store.metrics_queries import FINAL_SETTINGS
from haloscope.platform.store.trace_queries import (
    TRACE_AGGREGATES,
    candidate_bounds,
    candidate_traces,
    scan_bounds,
)

# A conversation turn also needs its first error and what was asked and answered: the root
# span's input and output, else (a root without them, as an OTel server span) the first LLM
# span's input and the last LLM span's output.
_TURN_COLUMNS = """,
    argMinIf(status_message, start_time, status = 'error') AS error_message,
    argMinIf(input, start_time, parent_span_id = '' AND input != '') AS root_input,
    argMinIf(output, start_time, parent_span_id = '' AND output != '') AS root_output,
    argMinIf(input, start_time, kind = 'llm' AND input != '') AS llm_input,
    argMaxIf(output, end_time, kind = 'llm' AND output != '') AS llm_output"""

# Per group of traces (a session, a user): counts, tokens, the exact cost and the times.
_GROUP_TOTALS = """
    count() AS traces,
    countIf(error_count > 0) AS errors,
    sum(sum_prompt_tokens) AS prompt_tokens,
    sum(sum_completion_tokens) AS completion_tokens,
    sum(sum_total_tokens) AS total_tokens,
    sum(cost_exact) AS group_cost,
    toFloat64(group_cost) AS cost,
    min(trace_start) AS first_seen,
    max(trace_end) AS last_seen"""

# Sort name -> the column it orders by; each is offered ascending and descending.
SESSION_SORT_COLUMNS: dict[str, str] = {
    "last_seen": "last_seen",
    "first_seen": "first_seen",
    "traces": "traces",
    "tokens": "total_tokens",
    "cost": "group_cost",
    "errors": "errors",
    "session_id": "session_id",
}
USER_SORT_COLUMNS: dict[str, str] = {
    "last_seen": "last_seen",
    "first_seen": "first_seen",
    "traces": "traces",
    "sessions": "sessions",
    "tokens": "total_tokens",
    "cost": "group_cost",
    "error_rate": "error_rate",
    "user_id": "user_id",
}
DEFAULT_SORT = "last_seen_desc"
# The rollup column a list groups by -> the name it is shown under.
GROUP_KEYS = {"trace_session_id": "session_id", "trace_user_id": "user_id"}


@dataclass(frozen=True)
class GroupSort:
    """A checked sort of a group list: the column (from a fixed table) and its direction."""

    name: str
    column: str
    descending: bool


def group_sort(name: str, columns: dict[str, str]) -> GroupSort:
    """The sort called ``name`` (``<key>_desc`` or ``<key>_asc`` for a key of ``columns``);
    ValueError listing the valid names otherwise."""
    key, _, direction = name.rpartition("_")
    if key not in columns or direction not in ("asc", "desc"):
        valid = sorted(f"{k}_{d}" for k in columns for d in ("desc", "asc"))
        raise ValueError(f"unknown sort {name!r}; use one of {valid}")
    return GroupSort(name, columns[key], direction == "desc")


def rollup_sql(
    project_id: str,
    flt: TraceFilter,
    params: dict[str, Any],
    *,
    grouped_by: str,
    turns: bool = False,
) -> str:
    """The per-trace subquery (the trace list's aggregate) over traces starting in ``flt``'s
    range (either end may be open) that name a ``grouped_by`` (``trace_session_id`` or
    ``trace_user_id``), narrowed to the traces of ``flt.user_id`` / ``flt.session_id`` when
    given (their spans found first through the bloom-filter indexes, then each trace decided
    exactly on its final rows). ``turns`` adds the conversation columns (first error, input
    and output)."""
    params["project_id"] = project_id
    where = ["project_id = {project_id:String}", *scan_bounds(flt, params)]
    having = [f"{grouped_by} != ''"]
    bounds = candidate_bounds(flt, params)
    prewhere = []
    for field in ("user_id", "session_id"):
        value = getattr(flt, field)
        if value is not None:
            params[field] = value
            prewhere.append(candidate_traces(bounds, f"{field} = {{{field}:String}}"))
            having.append(f"trace_{field} = {{{field}:String}}")
    for name, value, operator in (("start_us", flt.start_us, ">="), ("end_us", flt.end_us, "<")):
        if value is not None:
            params[name] = value
            having.append(f"trace_start {operator} {{{name}:Int64}}")
    return "\n".join(
        [
            "SELECT" + TRACE_AGGREGATES + (_TURN_COLUMNS if turns else ""),
            "FROM spans FINAL",
            ("PREWHERE " + " AND ".join(prewhere)) if prewhere else "",
            "WHERE " + " AND ".join(where),
            "GROUP BY trace_id",
            "HAVING " + " AND ".join(having),
        ]
    )


def _group_list_sql(
    rollup: str,
    key: str,
    extra: str,
    order: GroupSort,
    params: dict[str, Any],
    page: tuple[int, int],
) -> str:
    """The rollup's traces grouped by the column ``key`` (``trace_session_id`` or
    ``trace_user_id``, shown as ``session_id``/``user_id``) with the group totals and ``extra``
    columns, one page (``limit``, ``offset``) in ``order``, ties broken by the key."""
    params["limit"], params["offset"] = page
    alias = GROUP_KEYS[key]
    direction = "DESC" if order.descending else "ASC"
    return "\n".join(
        [
            f"SELECT {key} AS {alias},{_GROUP_TOTALS},{extra}",
            f"FROM ({rollup})",
            f"GROUP BY {alias}",
            f"ORDER BY {order.column} {direction}, {alias} ASC",
            "LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
            FINAL_SETTINGS,
        ]
    )


def sessions_sql(
    project_id: str, flt: TraceFilter, order: GroupSort, limit: int, offset: int
) -> tuple[str, dict[str, Any]]:
    """A page of the sessions of traces starting in the range (of ``flt.user_id``'s traces
    only, when given): per session its user (that of its first trace naming one), traces,
    errored traces, tokens, cost, first trace start and last trace end."""
    params: dict[str, Any] = {}
    rollup = rollup_sql(project_id, flt, params, grouped_by="trace_session_id")
    extra = "\n    argMinIf(trace_user_id, trace_start, trace_user_id != '') AS user_id"
    sql = _group_list_sql(rollup, "trace_session_id", extra, order, params, (limit, offset))
    return sql, params


def users_sql(
    project_id: str, flt: TraceFilter, order: GroupSort, limit: int, offset: int
) -> tuple[str, dict[str, Any]]:
    """A page of the users of traces starting in the range (``flt.user_id`` alone, when
    given): per user traces, sessions, errored traces and their share, tokens, cost, first
    trace start and last trace end."""
    params: dict[str, Any] = {}
    rollup = rollup_sql(project_id, flt, params, grouped_by="trace_user_id")
    extra = (
        "\n    uniqExactIf(trace_session_id, trace_session_id != '') AS sessions,"
        "\n    errors / traces AS error_rate"
    )
    sql = _group_list_sql(rollup, "trace_user_id", extra, order, params, (limit, offset))
    return sql, params


def session_totals_sql(project_id: str, flt: TraceFilter) -> tuple[str, dict[str, Any]]:
    """One row over the traces of ``flt.session_id`` (in ``flt``'s range, when bounded): the
    group totals, span count, the user of its first trace naming one, all its users and every
    trace id (``traces`` is 0 when none)."""
    params: dict[str, Any] = {}
    rollup = rollup_sql(project_id, flt, params, grouped_by="trace_session_id")
    sql = "\n".join(
        [
            "SELECT" + _GROUP_TOTALS + ",",
            "    sum(span_count) AS spans,",
            "    argMinIf(trace_user_id, trace_start, trace_user_id != '') AS user_id,",
            "    arraySort(groupUniqArrayIf(trace_user_id, trace_user_id != '')) AS user_ids,",
            "    groupArray(trace_id) AS trace_ids",
            f"FROM ({rollup})",
            FINAL_SETTINGS,
        ]
    )
    return sql, params


def session_turns_sql(
    project_id: str, flt: TraceFilter, limit: int, offset: int
) -> tuple[str, dict[str, Any]]:
    """The traces of ``flt.session_id`` in start order (a page of them), each with its name,
    times, status and first error, tokens, cost, user, and its input and output as JSON text
    ('' when none was recorded)."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    rollup = rollup_sql(project_id, flt, params, grouped_by="trace_session_id", turns=True)
    sql = "\n".join(
        [
            "SELECT",
            "    trace_id, trace_name AS name, trace_start AS start_time, trace_end AS end_time,",
            "    trace_end - trace_start AS duration_us, span_count,",
            "    if(error_count > 0, 'error', 'ok') AS status, error_count, error_message,",
            "    trace_user_id AS user_id, sum_prompt_tokens AS prompt_tokens,",
            "    sum_completion_tokens AS completion_tokens, sum_total_tokens AS total_tokens,",
            "    toFloat64(cost_exact) AS cost,",
            "    if(root_input != '', root_input, llm_input) AS input,",
            "    if(root_output != '', root_output, llm_output) AS output",
            f"FROM ({rollup})",
            "ORDER BY start_time, trace_id",
            "LIMIT {limit:UInt32} OFFSET {offset:UInt64}",
            FINAL_SETTINGS,
        ]
    )
    return sql, params


# Per trace and score name: live scores (judge and human), and the count and sum of the
# numeric and boolean ones (booleans count 1/0; a category has no mean).
SCORES_BY_TRACE_SQL = """
SELECT
    trace_id,
    name,
    count() AS scores,
    countIf(value_type != 'categorical') AS valued,
    sumIf(value, value_type != 'categorical') AS value_sum
FROM scores FINAL
WHERE project_id = {project_id:String} AND has({trace_ids:Array(String)}, trace_id)
  AND deleted = 0
GROUP BY trace_id, name
ORDER BY trace_id, name
"""
