"""SQL of the metrics endpoint: span counts, error rate, latency percentiles, tokens and cost
over a time range, optionally grouped by day, model, release and prompt name/version, and of
the overview, which reads all three groupings (whole range, per day, per model) in one pass
over the spans."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

METRIC_GROUPS: dict[str, str] = {
    "day": "toString(toDate(start_time)) AS day",
    "model": "model",
    "release": "release",
    "prompt_name": "metadata['prompt.name'] AS prompt_name",
    "prompt_version": "metadata['prompt.version'] AS prompt_version",
}
# Grouping by these counts only the spans they concern: LLM spans for the model, spans whose
# metadata names a prompt (prompt.name) for the prompt groups (a missing version is '').
GROUP_SPANS: dict[str, str] = {
    "model": "kind = 'llm'",
    "prompt_name": "mapContains(metadata, 'prompt.name')",
    "prompt_version": "mapContains(metadata, 'prompt.name')",
}

# Percentiles interpolate linearly between the two nearest spans (exact, not sketched).
_METRICS_SELECT = """
    count() AS span_count,
    uniqExact(trace_id) AS trace_count,
    countIf(status = 'error') AS error_count,
    quantilesExactInclusive(0.5, 0.95, 0.99)(duration_us) AS latency_us,
    sum(prompt_tokens) AS sum_prompt_tokens,
    sum(completion_tokens) AS sum_completion_tokens,
    sum(total_tokens) AS sum_total_tokens,
    sum(cost) AS sum_cost
"""


def checked_groups(group_by: Sequence[str]) -> list[str]:
    """``group_by`` in canonical order; ValueError for unknown or repeated names."""
    unknown = [g for g in group_by if g not in METRIC_GROUPS]
    if unknown or len(set(group_by)) != len(group_by):
        raise ValueError(f"group_by must be distinct names among {list(METRIC_GROUPS)}")
    return [g for g in METRIC_GROUPS if g in group_by]


_RANGE = [
    "project_id = {project_id:String}",
    "start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')",
    "start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')",
]

# Duplicates of a span share its sorting key, which holds toDate(start_time), so they always sit
# in the same monthly partition and FINAL need not merge across partitions.
FINAL_SETTINGS = "SETTINGS do_not_merge_across_partitions_select_final = 1"

# grouping(day, kind) is a bitmask of the keys a row is NOT grouped by (standard SQL): 3 for
# the whole range, 1 for a day, 2 for a (kind, model) pair, of which only LLM spans are kept.
OVERVIEW_SQL = f"""
SELECT
    grouping(day, kind) AS grouping_set,
    toString(toDate(start_time)) AS day,
    kind,
    model,
    {_METRICS_SELECT}
FROM spans FINAL
WHERE {" AND ".join(_RANGE)}
GROUP BY GROUPING SETS ((), (day), (kind, model))
HAVING grouping_set != 2 OR kind = 'llm'
ORDER BY grouping_set, day, model
{FINAL_SETTINGS}
"""  # noqa: S608 - constant fragments only
_OVERVIEW_SETS = {3: "totals", 1: "daily", 2: "by_model"}


def overview_rows(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """OVERVIEW_SQL's rows split into "totals", "daily" and "by_model", each in the shape of
    :func:`metrics_row` for no grouping, ["day"] and ["model"]; empty groups are dropped."""
    split: dict[str, list[dict[str, Any]]] = {name: [] for name in _OVERVIEW_SETS.values()}
    groups: dict[str, list[str]] = {"totals": [], "daily": ["day"], "by_model": ["model"]}
    for row in rows:
        name = _OVERVIEW_SETS[int(row["grouping_set"])]
        if int(row["span_count"]) > 0:
            split[name].append(metrics_row(row, groups[name]))
    return split


def metrics_sql(
    project_id: str, start_us: int, end_us: int, groups: list[str]
) -> tuple[str, dict[str, Any]]:
    """The metrics query and its parameters. Grouping by model counts only LLM spans, by a
    prompt's name or version only the spans that carry it (see GROUP_SPANS)."""
    params: dict[str, Any] = {"project_id": project_id, "start_us": start_us, "end_us": end_us}
    where = list(_RANGE) + sorted({GROUP_SPANS[g] for g in groups if g in GROUP_SPANS})
    select = [METRIC_GROUPS[g] for g in groups] + [_METRICS_SELECT]
    lines = [
        "SELECT " + ", ".join(select),
        "FROM spans FINAL",
        "WHERE " + " AND ".join(where),
    ]
    if groups:
        lines.append("GROUP BY " + ", ".join(groups))
        lines.append("ORDER BY " + ", ".join(groups))
    lines.append(FINAL_SETTINGS)
    return "\n".join(lines), params


def metrics_row(row: dict[str, Any], groups: list[str]) -> dict[str, Any]:
    """One result row in the API's shape (latencies in milliseconds)."""
    p50, p95, p99 = (float(v) / 1000.0 for v in row["latency_us"])
    count = int(row["span_count"])
    out: dict[str, Any] = {g: row[g] for g in groups}
    out.update(
        count=count,
        traces=int(row["trace_count"]),
        error_rate=int(row["error_count"]) / count if count else 0.0,
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
        prompt_tokens=int(row["sum_prompt_tokens"]),
        completion_tokens=int(row["sum_completion_tokens"]),
        total_tokens=int(row["sum_total_tokens"]),
        cost=float(row["sum_cost"]),
    )
    return out
