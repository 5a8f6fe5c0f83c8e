"""The drift job: a project's current window against a baseline window, per feature.

Features: span latency and status (error or not), LLM spans' tokens, cost and input/output
lengths, and every score name's values. Each window's values are bounded uniform samples
(``groupArraySample``, a reservoir) drawn in one pass over both windows, so a report costs
two ClickHouse scans whatever the traffic. The verdicts come from ``drift_report``
(Benjamini-Hochberg across features); the report is stored in ``drift_reports``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from haloscope.evaluators.drift import DriftReport, drift_report
from haloscope.platform.db.models import DriftReportRecord, utcnow
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session

DEFAULT_SAMPLE_SIZE = 5000
MAX_SAMPLE_SIZE = 1_000_000
SPAN_FEATURES = ("latency_ms", "error")
LLM_FEATURES = ("total_tokens", "cost", "input_length", "output_length")
CATEGORICAL = ("error",)
SCORE_PREFIX = "score:"

_IS_CURRENT = "if({column} >= fromUnixTimestamp64Micro({{current_start_us:Int64}}, 'UTC'), 1, 0)"
SPAN_SAMPLES_SQL = """
    SELECT
        {window} AS is_current,
        groupArraySample({n}, {seed})(
            (toFloat64(duration_us) / 1000, toUInt8(status = 'error'))
        ) AS spans,
        groupArraySampleIf({n}, {seed})(
            (toFloat64(total_tokens), cost, toFloat64(length(input)), toFloat64(length(output))),
            kind = 'llm'
        ) AS llm
    FROM spans FINAL
    WHERE project_id = {{project_id:String}}
      AND ((start_time >= fromUnixTimestamp64Micro({{baseline_start_us:Int64}}, 'UTC')
            AND start_time < fromUnixTimestamp64Micro({{baseline_end_us:Int64}}, 'UTC'))
        OR (start_time >= fromUnixTimestamp64Micro({{current_start_us:Int64}}, 'UTC')
            AND start_time < fromUnixTimestamp64Micro({{current_end_us:Int64}}, 'UTC')))
    GROUP BY is_current
    SETTINGS do_not_merge_across_partitions_select_final = 1
"""

SCORE_SAMPLES_SQL = """
    SELECT
        {window} AS is_current,
        name,
        groupArraySample({n}, {seed})(value) AS scores
    FROM scores FINAL
    WHERE project_id = {{project_id:String}}
      AND ((timestamp >= fromUnixTimestamp64Micro({{baseline_start_us:Int64}}, 'UTC')
            AND timestamp < fromUnixTimestamp64Micro({{baseline_end_us:Int64}}, 'UTC'))
        OR (timestamp >= fromUnixTimestamp64Micro({{current_start_us:Int64}}, 'UTC')
            AND timestamp < fromUnixTimestamp64Micro({{current_end_us:Int64}}, 'UTC')))
    GROUP BY is_current, name
    SETTINGS do_not_merge_across_partitions_select_final = 1
"""


@dataclass(frozen=True)
class DriftWindows:
    """The compared windows: ``[current_start, current_end)`` against the baseline."""

    current_start: datetime
    current_end: datetime
    baseline_start: datetime
    baseline_end: datetime

    @classmethod
    def previous(cls, end: datetime, hours: int = 24) -> DriftWindows:
        """The ``hours`` before ``end`` against the ``hours`` before those."""
        length = timedelta(hours=hours)
        return cls(end - length, end, end - 2 * length, end - length)

    def __post_init__(self) -> None:
        if not (self.current_start < self.current_end and self.baseline_start < self.baseline_end):
            raise ValueError("each window must start before it ends")
        if self.baseline_end > self.current_start:
            raise ValueError("the baseline window must end before the current window starts")

    def params(self) -> dict[str, int]:
        """The windows as bound microsecond parameters."""
        return {
            f"{field.name}_us": int(getattr(self, field.name).timestamp() * 1_000_000)
            for field in dataclasses.fields(self)
        }


def _sampling_sql(template: str, time_column: str, sample_size: int, seed: int) -> str:
    """``template`` with the reservoir size and seed inlined: ClickHouse takes aggregate
    function parameters only as literals, so both are checked integers, never user text."""
    if not (isinstance(sample_size, int) and 1 <= sample_size <= MAX_SAMPLE_SIZE):
        raise ValueError(f"sample_size must be an integer in [1, {MAX_SAMPLE_SIZE}]")
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise ValueError("seed must be an integer in [0, 2^63)")
    window = _IS_CURRENT.format(column=time_column)
    # groupArraySample refuses a zero seed: seeds are shifted by one.
    return template.format(window=window, n=sample_size, seed=seed + 1)


def fetch_features(
    store: TraceStore,
    project_id: str,
    windows: DriftWindows,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Bounded samples of every feature in the baseline and the current window."""
    params = {"project_id": project_id, **windows.params()}
    sides: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] = ({}, {})
    for row in store.driver.query(
        _sampling_sql(SPAN_SAMPLES_SQL, "start_time", sample_size, seed), params
    ):
        side = sides[int(row["is_current"])]
        spans = np.asarray(row["spans"], dtype=np.float64).reshape(-1, len(SPAN_FEATURES))
        side["latency_ms"], side["error"] = spans[:, 0], spans[:, 1].astype(np.int64)
        llm = np.asarray(row["llm"], dtype=np.float64).reshape(-1, len(LLM_FEATURES))
        for position, name in enumerate(LLM_FEATURES):
            side[name] = llm[:, position]
    for row in store.driver.query(
        _sampling_sql(SCORE_SAMPLES_SQL, "timestamp", sample_size, seed), params
    ):
        values = np.asarray(row["scores"], dtype=np.float64)
        sides[int(row["is_current"])][SCORE_PREFIX + row["name"]] = values
    for name in {*sides[0], *sides[1], *SPAN_FEATURES, *LLM_FEATURES}:
        dtype = np.int64 if name in CATEGORICAL else np.float64
        for side in sides:
            side.setdefault(name, np.zeros(0, dtype=dtype))
    return sides


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _feature_json(report: DriftReport) -> dict[str, Any]:
    features = {}
    for name, feature in report.features.items():
        view = dataclasses.asdict(feature)
        view["statistics"] = {k: _json_float(v) for k, v in view["statistics"].items()}
        features[name] = {k: _json_float(v) for k, v in view.items()}
    return features


def compute_drift(
    store: TraceStore,
    project_id: str,
    windows: DriftWindows,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    fdr: float = 0.05,
    seed: int = 0,
) -> DriftReport:
    """The drift report of ``project_id``'s current window against its baseline."""
    baseline, current = fetch_features(store, project_id, windows, sample_size, seed)
    return drift_report(baseline, current, fdr=fdr, categorical=CATEGORICAL, seed=seed)


def run_drift_job(
    session: Session,
    store: TraceStore,
    project_id: str,
    windows: DriftWindows,
    *,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
) -> DriftReportRecord:
    """Compute and store the project's drift report (the caller commits)."""
    report = compute_drift(store, project_id, windows, sample_size=sample_size)
    record = DriftReportRecord(
        project_id=project_id,
        current_start=windows.current_start,
        current_end=windows.current_end,
        baseline_start=windows.baseline_start,
        baseline_end=windows.baseline_end,
        drifted=report.drifted,
        features=_feature_json(report),
        created_at=utcnow(),
    )
    session.add(record)
    session.flush()
    return record


def list_reports(session: Session, project_id: str, limit: int = 50) -> list[DriftReportRecord]:
    """The project's drift reports, newest first."""
    query = (
        select(DriftReportRecord)
        .where(DriftReportRecord.project_id == project_id)
        .order_by(DriftReportRecord.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def report_as_dict(record: DriftReportRecord) -> dict[str, Any]:
    """A JSON-ready view of a stored drift report."""
    return {
        "id": record.id,
        "current": {
            "start": record.current_start.isoformat(),
            "end": record.current_end.isoformat(),
        },
        "baseline": {
            "start": record.baseline_start.isoformat(),
            "end": record.baseline_end.isoformat(),
        },
        "drifted": record.drifted,
        "features": record.features,
        "created_at": record.created_at.isoformat(),
    }
