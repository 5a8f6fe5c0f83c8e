"""The overview from the hourly and daily rollups equals the exact computation over the raw
spans (exact figures equal, sketched ones within their stated accuracy), also after re-sent
spans and spans arriving late for an hour or a day that was already rolled up."""

from __future__ import annotations

import random
from typing import Any

import pytest
from haloscope.platform.store import TraceStore
from haloscope.platform.store.overview_rollup import (
    HOUR_US,
    OverviewMetrics,
    overview,
    refresh_rollup,
)

from tests.store.spans import BASE_US, DAY_US, span_row
from tests.store.test_metrics import day_of

NOW_US = BASE_US + 3 * DAY_US + 2 * HOUR_US + 10 * 60 * 1_000_000
RANGE = (BASE_US + 7 * HOUR_US + 30 * 60 * 1_000_000, NOW_US)  # starts and ends mid-hour
EXACT_KEYS = ("count", "error_rate", "prompt_tokens", "completion_tokens", "total_tokens")
SKETCH_REL = 0.01  # quantilesDD's relative accuracy
QUANTILES = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
TRACES_REL = 0.03  # uniqHLL12 over a few hundred traces per day


def traces(project_id: str, count: int, rng: random.Random, prefix: str) -> list[dict[str, Any]]:
    """``count`` traces of a chain root and two LLM calls, starting anywhere in the range."""
    rows = []
    for n in range(count):
        trace_id = f"{prefix}{n:06d}".ljust(32, "0")
        start = rng.randrange(BASE_US, NOW_US - 60_000_000)
        root = span_row(
            project_id, trace_id, f"{trace_id[:12]}root", kind="chain", start_time=start,
            end_time=start + rng.randrange(1_000, 900_000),
        )  # fmt: skip
        rows.append(root)
        for j in range(2):
            begin = start + rng.randrange(0, 40_000_000)
            tokens = rng.randrange(10, 900)
            rows.append(
                span_row(
                    project_id, trace_id, f"{trace_id[:12]}llm{j}", parent_span_id=root["span_id"],
                    kind="llm", model=rng.choice(("gpt-4o", "claude-3-5-haiku")),
                    status="error" if rng.random() < 0.05 else "ok", start_time=begin,
                    end_time=begin + rng.randrange(20_000, 2_000_000), prompt_tokens=tokens,
                    completion_tokens=tokens // 3, total_tokens=tokens + tokens // 3,
                    cost=tokens * 1e-5,
                )
            )  # fmt: skip
    return rows


def stored_spans(*batches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The spans in RANGE after deduplication: the last sent version of each span wins."""
    latest = {(r["trace_id"], r["span_id"]): r for batch in batches for r in batch}
    return [r for r in latest.values() if RANGE[0] <= r["start_time"] < RANGE[1]]


def sketch_bounds(durations: list[int], q: float) -> tuple[float, float]:
    """Where a 1%-accurate sketch may put quantile ``q`` (ms): around the ranks next to the
    exact (interpolated) position, widened by the relative accuracy."""
    ordered = sorted(durations)
    position = q * (len(ordered) - 1)
    low = ordered[max(int(position) - 1, 0)]
    high = ordered[min(int(position) + 2, len(ordered) - 1)]
    return low * (1 - SKETCH_REL) / 1000, high * (1 + SKETCH_REL) / 1000


def assert_row_close(actual: dict[str, Any], expected: dict[str, Any], spans: list[dict]) -> None:
    for key in EXACT_KEYS:
        assert actual[key] == expected[key], key
    assert actual["cost"] == pytest.approx(expected["cost"], rel=1e-9)
    assert actual["traces"] == pytest.approx(expected["traces"], rel=TRACES_REL)
    durations = [s["end_time"] - s["start_time"] for s in spans]
    for key, q in QUANTILES.items():
        low, high = sketch_bounds(durations, q)
        assert low <= actual[key] <= high, (key, actual[key], expected[key])


def assert_matches_raw(
    store: TraceStore, project_id: str, result: OverviewMetrics, spans: list[dict[str, Any]]
) -> None:
    raw = store.overview_metrics(project_id, *RANGE)
    groups = {
        "totals": lambda row: lambda s: True,
        "daily": lambda row: lambda s: day_of(s) == row["day"],
        "by_model": lambda row: lambda s: s["kind"] == "llm" and s["model"] == row["model"],
    }
    for name, member in groups.items():
        got, want = getattr(result, name), raw[name]
        assert [r.get("day", r.get("model")) for r in got] == [
            r.get("day", r.get("model")) for r in want
        ], name
        for actual, expected in zip(got, want, strict=True):
            assert_row_close(actual, expected, list(filter(member(expected), spans)))


@pytest.fixture
def seeded(trace_store: TraceStore, project_id: str) -> list[dict[str, Any]]:
    rows = traces(project_id, 450, random.Random(11), "a")
    trace_store.insert_spans(rows)
    return rows


def rollup_rows(store: TraceStore, project_id: str) -> list[dict[str, Any]]:
    """The hourly rows, then the daily rows, as stored (FINAL)."""
    hourly = store.driver.query(
        "SELECT toUnixTimestamp(hour) AS h, scope, model, span_count, source_version "
        "FROM span_hourly_rollup FINAL WHERE project_id = {p:String} ORDER BY h, scope, model",
        {"p": project_id},
    )
    daily = store.driver.query(
        "SELECT toString(day) AS d, scope, model, span_count, built_at "
        "FROM span_daily_rollup FINAL WHERE project_id = {p:String} ORDER BY d, scope, model",
        {"p": project_id},
    )
    return hourly + daily


def daily_all_rows(store: TraceStore, project_id: str) -> dict[str, tuple[int, int]]:
    """Per day of the daily rollup: the current 'all' row's span count and build time."""
    rows = store.driver.query(
        "SELECT toString(day) AS d, span_count, built_at FROM span_daily_rollup FINAL "
        "WHERE project_id = {p:String} AND scope = 'all'",
        {"p": project_id},
    )
    return {r["d"]: (int(r["span_count"]), int(r["built_at"])) for r in rows}


def test_rollup_overview_matches_the_raw_spans(
    trace_store: TraceStore, project_id: str, seeded: list[dict[str, Any]]
) -> None:
    result = overview(trace_store.driver, project_id, *RANGE, NOW_US)
    assert not result.exact
    assert len(result.daily) == 4 and len(result.by_model) == 2
    # The two whole closed days inside the range were read from daily rows.
    assert sorted(daily_all_rows(trace_store, project_id)) == [r["day"] for r in result.daily[1:3]]
    assert result.totals[0]["count"] == sum(RANGE[0] <= r["start_time"] for r in seeded)
    assert_matches_raw(trace_store, project_id, result, stored_spans(seeded))


def test_resent_and_late_spans_are_counted_once_after_the_hour_was_rolled_up(
    trace_store: TraceStore, project_id: str, seeded: list[dict[str, Any]]
) -> None:
    # A model used by a single span of a whole day, which a re-send below takes away again.
    rare = span_row(
        project_id, "c".ljust(32, "0"), "rare", kind="llm", model="rare-model",
        start_time=BASE_US + DAY_US + 10 * HOUR_US, end_time=BASE_US + DAY_US + 10 * HOUR_US + 9,
    )  # fmt: skip
    trace_store.insert_spans([rare])
    assert refresh_rollup(trace_store.driver, NOW_US) >= 70
    rolled = rollup_rows(trace_store, project_id)
    days_before = daily_all_rows(trace_store, project_id)
    assert len(days_before) == 3  # every whole closed day, day 0 included
    # Re-sent spans, some changed: a new model (its old model row must drop out), an error.
    resent = [dict(r) for r in seeded[:90]] + [{**rare, "model": "gpt-4o"}]
    for row in resent[::7]:
        if row["kind"] == "llm":
            row.update(model="gpt-4o-mini", status="error")
    trace_store.insert_spans(resent)
    # Late spans for an hour of the first, partial day and one of a whole day in the range, both
    # long closed and already rolled up.
    late = traces(project_id, 40, random.Random(5), "b")
    for n, row in enumerate(late):
        day_start = BASE_US + (n % 2) * DAY_US
        row["start_time"] = day_start + 20 * HOUR_US + row["start_time"] % HOUR_US
        row["end_time"] = row["start_time"] + 50_000
    trace_store.insert_spans(late)

    result = overview(trace_store.driver, project_id, *RANGE, NOW_US)
    assert {r["model"] for r in result.by_model} == {"gpt-4o", "claude-3-5-haiku", "gpt-4o-mini"}
    spans = stored_spans(seeded, [rare], resent, late)
    assert_matches_raw(trace_store, project_id, result, spans)
    assert rollup_rows(trace_store, project_id) != rolled
    day_1 = day_of({"start_time": BASE_US + DAY_US})
    count, built_at = daily_all_rows(trace_store, project_id)[day_1]
    assert count == sum(day_of(s) == day_1 for s in spans)
    assert built_at > days_before[day_1][1]
    # The job's recomputation is idempotent: once it ran, a repeat finds nothing to change.
    refresh_rollup(trace_store.driver, NOW_US)
    after = rollup_rows(trace_store, project_id)
    refresh_rollup(trace_store.driver, NOW_US)
    assert rollup_rows(trace_store, project_id) == after


def test_a_range_without_a_closed_hour_is_exact(
    trace_store: TraceStore, project_id: str, seeded: list[dict[str, Any]]
) -> None:
    start, end = NOW_US - HOUR_US, NOW_US
    result = overview(trace_store.driver, project_id, start, end, NOW_US)
    raw = trace_store.overview_metrics(project_id, start, end)
    assert result.exact
    assert (result.totals, result.daily, result.by_model) == (
        raw["totals"],
        raw["daily"],
        raw["by_model"],
    )
    assert result.totals and result.totals[0]["count"] > 0


def test_a_late_span_ingested_with_an_older_time_than_its_day_still_rebuilds_the_day(
    trace_store: TraceStore, project_id: str
) -> None:
    day = BASE_US + DAY_US
    for n, hour in enumerate((3, 20)):  # two inserts: hour 20's version is the newer one
        start = day + hour * HOUR_US
        trace_store.insert_spans(
            [span_row(project_id, f"d{n}".ljust(32, "0"), f"s{n}", start_time=start,
                      end_time=start + 1000)]
        )  # fmt: skip
    overview(trace_store.driver, project_id, *RANGE, NOW_US)
    versions = [
        int(r["v"])
        for r in trace_store.driver.query(
            "SELECT toUnixTimestamp64Micro(max(ingested_at)) AS v FROM spans "
            "WHERE project_id = {p:String} GROUP BY toStartOfHour(start_time) ORDER BY v",
            {"p": project_id},
        )
    ]
    # A span for hour 3 stamped (by a lagging ingest node) before hour 20's newest span.
    late_start = day + 3 * HOUR_US + 5 * 60 * 1_000_000
    trace_store.driver.execute(
        "INSERT INTO spans (project_id, trace_id, span_id, start_time, end_time, ingested_at) "
        "VALUES ({p:String}, {t:String}, 'late', fromUnixTimestamp64Micro({s:Int64}, 'UTC'), "
        "fromUnixTimestamp64Micro({e:Int64}, 'UTC'), fromUnixTimestamp64Micro({i:Int64}, 'UTC'))",
        {"p": project_id, "t": "d2".ljust(32, "0"), "s": late_start, "e": late_start + 500,
         "i": versions[0] + 1},
    )  # fmt: skip
    assert versions[0] + 1 < versions[1]

    result = overview(trace_store.driver, project_id, *RANGE, NOW_US)
    assert result.totals[0]["count"] == 3
    assert daily_all_rows(trace_store, project_id)[day_of({"start_time": day})][0] == 3
