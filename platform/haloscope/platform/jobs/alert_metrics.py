"""The metrics alert rules watch, measured over a current window and its baseline window.

Each trace-store metric is one ClickHouse query over both windows (``FINAL``, bound
parameters); ``drift`` reads the latest stored drift report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from haloscope.platform.db.models import DriftReportRecord
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session

_SPANS = "spans FINAL", "start_time"
_SCORES = "scores FINAL", "timestamp"
# metric -> (table, time column, value expression, extra condition)
_STORE_METRICS: dict[str, tuple[tuple[str, str], str, str]] = {
    "error_rate": (_SPANS, "countIf(status = 'error') / count()", "1"),
    "p95_latency_ms": (_SPANS, "quantile(0.95)(duration_us) / 1000", "1"),
    "cost_per_request": (_SPANS, "sum(cost) / uniqExact(trace_id)", "1"),
    "hallucination_rate": (
        _SCORES,
        "countIf(label = 'hallucinated') / count()",
        "startsWith(name, 'hallucination.') AND deleted = 0",
    ),
}
_METRIC_SQL = """
    SELECT
        if({time} >= fromUnixTimestamp64Micro({{current_start_us:Int64}}, 'UTC'), 1, 0)
            AS is_current,
        {value} AS value
    FROM {table}
    WHERE project_id = {{project_id:String}}
      AND {time} >= fromUnixTimestamp64Micro({{baseline_start_us:Int64}}, 'UTC')
      AND {time} < fromUnixTimestamp64Micro({{current_end_us:Int64}}, 'UTC')
      AND {condition}
    GROUP BY is_current
    SETTINGS do_not_merge_across_partitions_select_final = 1
"""


@dataclass(frozen=True)
class Measurement:
    """A metric's value in the current window and in its baseline (None: no data)."""

    value: float | None
    baseline: float | None


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def measure(
    store: TraceStore,
    session: Session,
    project_id: str,
    metric: str,
    *,
    now: datetime,
    window_hours: int,
    baseline_days: int,
) -> Measurement:
    """``metric`` over the ``window_hours`` before ``now`` and the ``baseline_days`` before
    that window."""
    current_start = now - timedelta(hours=window_hours)
    if metric == "drift":
        return _latest_drift(session, project_id, current_start)
    (table, time_column), value, condition = _STORE_METRICS[metric]
    sql = _METRIC_SQL.format(table=table, time=time_column, value=value, condition=condition)
    params = {
        "project_id": project_id,
        "baseline_start_us": _micros(current_start - timedelta(days=baseline_days)),
        "current_start_us": _micros(current_start),
        "current_end_us": _micros(now),
    }
    values = {
        int(row["is_current"]): float(row["value"]) for row in store.driver.query(sql, params)
    }
    return Measurement(values.get(1), values.get(0))


def _latest_drift(session: Session, project_id: str, since: datetime) -> Measurement:
    query = (
        select(DriftReportRecord.drifted)
        .where(DriftReportRecord.project_id == project_id, DriftReportRecord.created_at >= since)
        .order_by(DriftReportRecord.created_at.desc())
        .limit(1)
    )
    drifted = session.scalars(query).first()
    return Measurement(None if drifted is None else float(len(drifted)), None)
