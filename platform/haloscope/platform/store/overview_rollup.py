"""The overview's figures from an hourly and a daily rollup of the spans, combined with live spans.

Closed hours (ended :data:`CLOSE_GRACE_US` ago) are summarised once into
``span_hourly_rollup`` from ``spans FINAL``, so re-sent spans count once. An hour is recomputed
whenever its spans hold an ``ingested_at`` newer than the rollup's ``source_version`` (a late
span for a past hour, a re-sent span), which the ``hour_ingested`` projection answers cheaply.
Whole closed days are merged once more from their current hourly rows into
``span_daily_rollup``; a day is merged again when the (hour, version) pairs of its hourly rows
no longer match the digest it was merged from. :func:`refresh_rollup` does both for every
project (the periodic job) and :func:`overview` does it for the hours and days it reads before
reading them, so the figures never depend on the job having run. A range reads its whole
closed days from the daily rows, its other whole closed hours from the hourly rows, and the
partial hours at its edges live from the spans, all in one query.

Exact from the rollup: span counts, error counts and rate, tokens, cost. Approximate: latency
p50/p95/p99, merged from DDSketch states (``quantilesDD`` with 1% relative accuracy), and trace
counts, merged from HyperLogLog states (``uniqHLL12``, about 1.6% standard error); merging the
hourly states into daily ones loses nothing (both sketches merge exactly). A range holding no
whole closed hour (the last hour) is computed exactly from the spans instead.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from haloscope.platform.store.base import StoreDriver
from haloscope.platform.store.metrics_queries import FINAL_SETTINGS, OVERVIEW_SQL, overview_rows

HOUR_US = 3600 * 1_000_000
DAY_US = 24 * HOUR_US
# An hour is rolled up once it ended this long ago; spans arriving later make it stale again.
CLOSE_GRACE_US = 5 * 60 * 1_000_000
LATENCY_SKETCH = "quantilesDD(0.01, 0.5, 0.95, 0.99)"
TRACES_SKETCH = "uniqHLL12"
_LATENCY_MERGE = LATENCY_SKETCH.replace("(", "Merge(", 1)
_LATENCY_MERGE_STATE = LATENCY_SKETCH.replace("(", "MergeState(", 1)

_START_AT_LEAST = "start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')"
_START_BEFORE = "start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')"

# The newest ingested_at per hour holding spans, read from the hour_ingested projection.
SPAN_HOURS_SQL = """
SELECT toUnixTimestamp(toStartOfHour(start_time)) AS hour_s,
       toUnixTimestamp64Micro(max(ingested_at)) AS version
FROM spans
WHERE project_id = {project_id:String}
  AND toStartOfHour(start_time) >= toDateTime({first_hour_s:Int64}, 'UTC')
  AND toStartOfHour(start_time) < toDateTime({end_hour_s:Int64}, 'UTC')
GROUP BY toStartOfHour(start_time)
"""

ROLLED_HOURS_SQL = """
SELECT toUnixTimestamp(hour) AS hour_s, source_version AS version
FROM span_hourly_rollup FINAL
WHERE project_id = {project_id:String} AND scope = 'all'
  AND hour >= toDateTime({first_hour_s:Int64}, 'UTC')
  AND hour < toDateTime({end_hour_s:Int64}, 'UTC')
"""

PROJECTS_SQL = "SELECT project_id FROM spans GROUP BY project_id ORDER BY project_id"

# One 'all' row per hour and one 'llm' row per (hour, model) of LLM spans: grouping(kind, model)
# is 3 for a row not grouped by kind and model, 0 for a row grouped by both.
_HOURLY_SELECT = f"""
SELECT
    toStartOfHour(start_time) AS hour,
    if(grouping(kind, model) = 0, 'llm', 'all') AS scope,
    if(grouping(kind, model) = 0, model, '') AS row_model,
    count() AS span_count,
    countIf(status = 'error') AS error_count,
    sum(prompt_tokens) AS prompt_tokens,
    sum(completion_tokens) AS completion_tokens,
    sum(total_tokens) AS total_tokens,
    sum(cost) AS cost,
    {LATENCY_SKETCH.replace("(", "State(", 1)}(duration_us) AS latency_sketch,
    {TRACES_SKETCH}State(trace_id) AS traces_sketch
"""
_HOURLY_GROUPING = """
GROUP BY GROUPING SETS ((hour), (hour, kind, model))
HAVING grouping(kind, model) = 3 OR kind = 'llm'
"""

RECOMPUTE_SQL = f"""
INSERT INTO span_hourly_rollup (project_id, hour, scope, model, span_count, error_count,
    prompt_tokens, completion_tokens, total_tokens, cost, latency_sketch, traces_sketch,
    source_version)
SELECT {{project_id:String}}, hour, scope, row_model, span_count, error_count, prompt_tokens,
    completion_tokens, total_tokens, cost, latency_sketch, traces_sketch,
    {{versions:Array(Int64)}}[indexOf({{hours_s:Array(Int64)}}, toUnixTimestamp(hour))]
FROM (
    {_HOURLY_SELECT}
    FROM spans FINAL
    WHERE project_id = {{project_id:String}} AND {_START_AT_LEAST} AND {_START_BEFORE}
      AND has({{hours_s:Array(Int64)}}, toUnixTimestamp(toStartOfHour(start_time)))
    {_HOURLY_GROUPING}
)
{FINAL_SETTINGS}
"""  # noqa: S608 - constant fragments only

# The hourly rows of the hours in [{first_s}, {end_s}) (epoch seconds, parameter names given)
# that belong to each hour's current recomputation: a model that vanished from an hour keeps an
# older row, which this drops.
_CURRENT_HOURLY_ROWS = """
FROM span_hourly_rollup FINAL
WHERE project_id = {{project_id:String}}
  AND hour >= toDateTime({{{first_s}:Int64}}, 'UTC') AND hour < toDateTime({{{end_s}:Int64}}, 'UTC')
  AND (hour, source_version) IN (
      SELECT hour, source_version FROM span_hourly_rollup FINAL
      WHERE project_id = {{project_id:String}} AND scope = 'all'
        AND hour >= toDateTime({{{first_s}:Int64}}, 'UTC')
        AND hour < toDateTime({{{end_s}:Int64}}, 'UTC'))
"""
_DAY_S = "toUnixTimestamp(toDateTime(day, 'UTC'))"

DAY_DIGESTS_SQL = f"""
SELECT {_DAY_S} AS day_s, hours_digest
FROM span_daily_rollup FINAL
WHERE project_id = {{project_id:String}} AND scope = 'all'
  AND day >= toDate(toDateTime({{days_start_s:Int64}}, 'UTC'))
  AND day < toDate(toDateTime({{days_end_s:Int64}}, 'UTC'))
"""  # noqa: S608 - constant fragments only

MERGE_DAYS_SQL = f"""
INSERT INTO span_daily_rollup (project_id, day, scope, model, span_count, error_count,
    prompt_tokens, completion_tokens, total_tokens, cost, latency_sketch, traces_sketch,
    hours_digest, built_at)
SELECT {{project_id:String}}, toDate(hour) AS day, scope, model, sum(span_count),
    sum(error_count), sum(prompt_tokens), sum(completion_tokens), sum(total_tokens), sum(cost),
    {_LATENCY_MERGE_STATE}(latency_sketch), {TRACES_SKETCH}MergeState(traces_sketch),
    {{digests:Array(UInt64)}}[indexOf({{days_s:Array(Int64)}}, {_DAY_S})], {{built_at:Int64}}
{_CURRENT_HOURLY_ROWS.format(first_s="days_start_s", end_s="days_end_s")}
  AND has({{days_s:Array(Int64)}}, toUnixTimestamp(toStartOfDay(hour)))
  AND has({{hours_s:Array(Int64)}}, toUnixTimestamp(hour))
GROUP BY day, scope, model
{FINAL_SETTINGS}
"""  # noqa: S608 - constant fragments only

_ROLLUP_COLUMNS = """scope, model, span_count, error_count, prompt_tokens, completion_tokens,
           total_tokens, cost, latency_sketch, traces_sketch"""

# grouping(day, model) as in OVERVIEW_SQL: 3 totals, 1 per day, 2 per model ('llm' rows only).
# Whole days from the daily rows, the range's other whole closed hours from the hourly rows,
# the partial hours at its edges live from the spans.
COMBINED_SQL = f"""
SELECT
    grouping(day, model) AS grouping_set,
    toString(day) AS day,
    model,
    sum(span_count) AS span_count,
    {TRACES_SKETCH}Merge(traces_sketch) AS trace_count,
    sum(error_count) AS error_count,
    {_LATENCY_MERGE}(latency_sketch) AS latency_us,
    sum(prompt_tokens) AS sum_prompt_tokens,
    sum(completion_tokens) AS sum_completion_tokens,
    sum(total_tokens) AS sum_total_tokens,
    sum(cost) AS sum_cost
FROM (
    SELECT day, {_ROLLUP_COLUMNS}
    FROM span_daily_rollup FINAL
    WHERE project_id = {{project_id:String}}
      AND day >= toDate(toDateTime({{days_start_s:Int64}}, 'UTC'))
      AND day < toDate(toDateTime({{days_end_s:Int64}}, 'UTC'))
      AND has({{rolled_days_s:Array(Int64)}}, {_DAY_S})
      AND (day, built_at) IN (
          SELECT day, built_at FROM span_daily_rollup FINAL
          WHERE project_id = {{project_id:String}} AND scope = 'all'
            AND day >= toDate(toDateTime({{days_start_s:Int64}}, 'UTC'))
            AND day < toDate(toDateTime({{days_end_s:Int64}}, 'UTC')))
    UNION ALL
    SELECT toDate(hour) AS day, {_ROLLUP_COLUMNS}
    {_CURRENT_HOURLY_ROWS.format(first_s="rolled_start_s", end_s="rolled_end_s")}
      AND has({{rolled_hours_s:Array(Int64)}}, toUnixTimestamp(hour))
      AND (hour < toDateTime({{days_start_s:Int64}}, 'UTC')
           OR hour >= toDateTime({{days_end_s:Int64}}, 'UTC'))
    UNION ALL
    SELECT toDate(hour) AS day, scope, row_model AS model, span_count, error_count,
           prompt_tokens, completion_tokens, total_tokens, cost, latency_sketch, traces_sketch
    FROM (
        {_HOURLY_SELECT}
        FROM spans FINAL
        WHERE project_id = {{project_id:String}} AND {_START_AT_LEAST} AND {_START_BEFORE}
          AND (start_time < toDateTime64({{rolled_start_s:Int64}}, 6, 'UTC')
               OR start_time >= toDateTime64({{rolled_end_s:Int64}}, 6, 'UTC'))
        {_HOURLY_GROUPING}
    )
)
GROUP BY GROUPING SETS ((scope), (scope, day), (scope, model))
HAVING (grouping_set = 2) = (scope = 'llm')
ORDER BY grouping_set, day, model
{FINAL_SETTINGS}
"""  # noqa: S608 - constant fragments only


@dataclass(frozen=True)
class OverviewMetrics:
    """The overview's rows in :func:`metrics_queries.metrics_row` shape: ``totals`` (one row or
    none), ``daily`` and ``by_model``. ``exact`` is False when latency percentiles and trace
    counts come from merged sketches (see the module docstring)."""

    totals: list[dict[str, Any]]
    daily: list[dict[str, Any]]
    by_model: list[dict[str, Any]]
    exact: bool


def _floor(us: int, unit_us: int) -> int:
    return us - us % unit_us


def _ceil(us: int, unit_us: int) -> int:
    return _floor(us + unit_us - 1, unit_us)


def closed_until(now_us: int) -> int:
    """The end (µs) of the last hour that is closed at ``now_us``."""
    return _floor(now_us - CLOSE_GRACE_US, HOUR_US)


def refresh_hours(
    driver: StoreDriver, project_id: str, start_us: int, end_us: int
) -> dict[int, int]:
    """Recompute the rollup of every hour in ``[start_us, end_us)`` (hour-aligned) whose spans
    changed since it was rolled up, or that was never rolled up; return the hours (epoch
    seconds) that hold spans, all now rolled up, with their version. Idempotent: a repeat finds
    nothing stale."""
    bounds = {
        "project_id": project_id,
        "first_hour_s": start_us // 1_000_000,
        "end_hour_s": end_us // 1_000_000,
    }
    current = {int(r["hour_s"]): int(r["version"]) for r in driver.query(SPAN_HOURS_SQL, bounds)}
    rolled = {int(r["hour_s"]): int(r["version"]) for r in driver.query(ROLLED_HOURS_SQL, bounds)}
    stale_by_day: dict[int, list[int]] = defaultdict(list)
    for hour_s, version in current.items():
        if rolled.get(hour_s, -1) < version:
            stale_by_day[hour_s // 86_400].append(hour_s)
    for hours in stale_by_day.values():  # one pass over the spans per day keeps memory bounded
        params = {
            "project_id": project_id,
            "start_us": min(hours) * 1_000_000,
            "end_us": max(hours) * 1_000_000 + HOUR_US,
            "hours_s": hours,
            "versions": [current[h] for h in hours],
        }
        driver.execute(RECOMPUTE_SQL, params)
    return dict(sorted(current.items()))


def _hours_digest(hours: dict[int, int]) -> int:
    """A 64-bit fingerprint of one day's (hour, version) pairs."""
    text = ",".join(f"{hour}:{version}" for hour, version in sorted(hours.items()))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def refresh_days(
    driver: StoreDriver, project_id: str, hours: dict[int, int], start_us: int, end_us: int
) -> list[int]:
    """Merge the daily rollup of every day in ``[start_us, end_us)`` (day-aligned, closed)
    whose current hourly rows ``hours`` (from :func:`refresh_hours`, covering the days) differ
    from those it was merged from; return the days (epoch seconds) that hold spans, all now
    merged. Idempotent like :func:`refresh_hours`."""
    if end_us <= start_us:
        return []
    by_day: dict[int, dict[int, int]] = defaultdict(dict)
    for hour_s, version in hours.items():
        if start_us <= hour_s * 1_000_000 < end_us:
            by_day[hour_s - hour_s % 86_400][hour_s] = version
    bounds = {
        "project_id": project_id,
        "days_start_s": start_us // 1_000_000,
        "days_end_s": end_us // 1_000_000,
    }
    stored = {
        int(r["day_s"]): int(r["hours_digest"]) for r in driver.query(DAY_DIGESTS_SQL, bounds)
    }
    digests = {day_s: _hours_digest(day_hours) for day_s, day_hours in by_day.items()}
    stale = sorted(day_s for day_s, digest in digests.items() if stored.get(day_s) != digest)
    if stale:
        params = {
            **bounds,
            "days_s": stale,
            "digests": [digests[day_s] for day_s in stale],
            "hours_s": [h for day_s in stale for h in by_day[day_s]],
            "built_at": time.time_ns() // 1000,
        }
        driver.execute(MERGE_DAYS_SQL, params)
    return sorted(by_day)


def refresh_rollup(driver: StoreDriver, now_us: int) -> int:
    """Bring the rollup of every project's closed hours and days up to date (the periodic job);
    return how many project-hours hold spans."""
    end_us = closed_until(now_us)
    projects = [row["project_id"] for row in driver.query(PROJECTS_SQL)]
    count = 0
    for project_id in projects:
        hours = refresh_hours(driver, project_id, 0, end_us)
        refresh_days(driver, project_id, hours, 0, _floor(end_us, DAY_US))
        count += len(hours)
    return count


def overview(
    driver: StoreDriver, project_id: str, start_us: int, end_us: int, now_us: int
) -> OverviewMetrics:
    """Totals, per-day and per-model figures of spans starting in ``[start_us, end_us)``: the
    whole closed days and hours from the (refreshed) rollups, the rest live from the spans."""
    if end_us <= start_us:
        raise ValueError("end_us must be after start_us")
    rolled_start = _ceil(start_us, HOUR_US)
    rolled_end = min(_floor(end_us, HOUR_US), closed_until(now_us))
    params: dict[str, Any] = {"project_id": project_id, "start_us": start_us, "end_us": end_us}
    if rolled_end <= rolled_start:
        rows = overview_rows(driver.query(OVERVIEW_SQL, params))
        return OverviewMetrics(rows["totals"], rows["daily"], rows["by_model"], exact=True)
    days_start = _ceil(rolled_start, DAY_US)
    days_end = max(_floor(rolled_end, DAY_US), days_start)
    hours = refresh_hours(driver, project_id, rolled_start, rolled_end)
    params.update(
        rolled_start_s=rolled_start // 1_000_000,
        rolled_end_s=rolled_end // 1_000_000,
        rolled_hours_s=list(hours),
        days_start_s=days_start // 1_000_000,
        days_end_s=days_end // 1_000_000,
        rolled_days_s=refresh_days(driver, project_id, hours, days_start, days_end),
    )
    rows = overview_rows(driver.query(COMBINED_SQL, params))
    return OverviewMetrics(rows["totals"], rows["daily"], rows["by_model"], exact=False)
