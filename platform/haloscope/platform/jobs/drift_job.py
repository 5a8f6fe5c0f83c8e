"""The drift job: a project's current window against a baseline window, per feature.

Features: span latency and status (error or not), LLM spans' tokens, cost and input/output
lengths, every score name's values, and the embeddings of LLM span inputs. Each window's
values are bounded uniform samples (``groupArraySample``, a reservoir) drawn in one pass over
both windows, so a report costs two ClickHouse scans whatever the traffic; the sampled inputs
are embedded (all-MiniLM-L6-v2) and compared with MMD and a permutation test. The verdicts
come from ``drift_report`` (Benjamini-Hochberg across features); the report is stored in
``drift_reports``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from haloscope.evaluators.drift import DriftReport, drift_report
from haloscope.evaluators.embeddings import Embedder
from haloscope.platform.db.models import DriftReportRecord, utcnow
from haloscope.platform.jobs.drift_histograms import feature_histograms
from haloscope.platform.jobs.span_inputs import text_of
from haloscope.platform.store import TraceStore
from sqlalchemy import select
from sqlalchemy.orm import Session

DEFAULT_SAMPLE_SIZE = 5000
DEFAULT_FDR = 0.05
# Input embeddings are the report's costliest part (MiniLM on the CPU, ~20 MFLOP per token):
# 64 inputs per window, each cut to its first EMBEDDED_CHARS characters (~100 tokens), keep a
# report over 1M spans within seconds while a change of topic still gives p < 0.01.
DEFAULT_EMBEDDING_SAMPLE_SIZE = 64
EMBEDDED_CHARS = 400
MAX_SAMPLE_SIZE = 1_000_000
SPAN_FEATURES = ("latency_ms", "error")
LLM_FEATURES = ("total_tokens", "cost", "input_length", "output_length")
CATEGORICAL = ("error",)
SCORE_PREFIX = "score:"
INPUT_EMBEDDING = "input_embedding"

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
        ) AS llm,
        groupArraySampleIf({n_inputs}, {seed})(input, kind = 'llm' AND input != '') AS inputs
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
    WHERE project_id = {{project_id:String}} AND deleted = 0
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

    def as_dict(self) -> dict[str, dict[str, str]]:
        """The windows as ISO times: ``{"current": {start, end}, "baseline": {start, end}}``."""
        return {
            side: {
                "start": getattr(self, f"{side}_start").isoformat(),
                "end": getattr(self, f"{side}_end").isoformat(),
            }
            for side in ("current", "baseline")
        }

    def params(self) -> dict[str, int]:
        """The windows as bound microsecond parameters."""
        return {
            f"{field.name}_us": int(getattr(self, field.name).timestamp() * 1_000_000)
            for field in dataclasses.fields(self)
        }


def _check_size(name: str, value: int) -> None:
    if not (isinstance(value, int) and 1 <= value <= MAX_SAMPLE_SIZE):
        raise ValueError(f"{name} must be an integer in [1, {MAX_SAMPLE_SIZE}]")


def _sampling_sql(
    template: str, time_column: str, sample_size: int, seed: int, inputs: int = 1
) -> str:
    """``template`` with the reservoir sizes and seed inlined: ClickHouse takes aggregate
    function parameters only as literals, so all are checked integers, never user text."""
    _check_size("sample_size", sample_size)
    _check_size("embedding_sample_size", inputs)
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise ValueError("seed must be an integer in [0, 2^63)")
    window = _IS_CURRENT.format(column=time_column)
    # groupArraySample refuses a zero seed: seeds are shifted by one.
    return template.format(window=window, n=sample_size, n_inputs=inputs, seed=seed + 1)


@dataclass(frozen=True)
class WindowSamples:
    """Both windows' feature samples (``baseline``, ``current``) and their sampled LLM span
    input texts."""

    baseline: dict[str, np.ndarray]
    current: dict[str, np.ndarray]
    baseline_inputs: list[str]
    current_inputs: list[str]


def fetch_features(
    store: TraceStore,
    project_id: str,
    windows: DriftWindows,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    seed: int = 0,
    embedding_sample_size: int = DEFAULT_EMBEDDING_SAMPLE_SIZE,
) -> WindowSamples:
    """Bounded samples of every feature and of the LLM span inputs in both windows."""
    params = {"project_id": project_id, **windows.params()}
    sides: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] = ({}, {})
    inputs: tuple[list[str], list[str]] = ([], [])
    sql = _sampling_sql(SPAN_SAMPLES_SQL, "start_time", sample_size, seed, embedding_sample_size)
    for row in store.driver.query(sql, params):
        current = int(row["is_current"])
        side = sides[current]
        spans = np.asarray(row["spans"], dtype=np.float64).reshape(-1, len(SPAN_FEATURES))
        side["latency_ms"], side["error"] = spans[:, 0], spans[:, 1].astype(np.int64)
        llm = np.asarray(row["llm"], dtype=np.float64).reshape(-1, len(LLM_FEATURES))
        for position, name in enumerate(LLM_FEATURES):
            side[name] = llm[:, position]
        inputs[current].extend(
            text[:EMBEDDED_CHARS] for text in map(text_of, row["inputs"]) if text
        )
    for row in store.driver.query(
        _sampling_sql(SCORE_SAMPLES_SQL, "timestamp", sample_size, seed), params
    ):
        values = np.asarray(row["scores"], dtype=np.float64)
        sides[int(row["is_current"])][SCORE_PREFIX + row["name"]] = values
    for name in {*sides[0], *sides[1], *SPAN_FEATURES, *LLM_FEATURES}:
        dtype = np.int64 if name in CATEGORICAL else np.float64
        for side in sides:
            side.setdefault(name, np.zeros(0, dtype=dtype))
    return WindowSamples(sides[0], sides[1], inputs[0], inputs[1])


def _json_float(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _feature_json(report: DriftReport, histograms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    features = {}
    for name, feature in report.features.items():
        view = dataclasses.asdict(feature)
        view["statistics"] = {k: _json_float(v) for k, v in view["statistics"].items()}
        features[name] = {k: _json_float(v) for k, v in view.items()}
        if name in histograms:
            features[name]["histogram"] = histograms[name]
    return features


def compute_drift(
    store: TraceStore,
    project_id: str,
    windows: DriftWindows,
    *,
    embedder: Embedder | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    embedding_sample_size: int = DEFAULT_EMBEDDING_SAMPLE_SIZE,
    fdr: float = DEFAULT_FDR,
    seed: int = 0,
) -> DriftReport:
    """The drift report of ``project_id``'s current window against its baseline; with an
    ``embedder``, the sampled LLM span inputs are compared as the ``input_embedding``
    feature."""
    samples = fetch_features(store, project_id, windows, sample_size, seed, embedding_sample_size)
    return _report(samples, embedder, fdr, seed)


def _report(
    samples: WindowSamples, embedder: Embedder | None, fdr: float = DEFAULT_FDR, seed: int = 0
) -> DriftReport:
    if embedder is not None:
        samples.baseline[INPUT_EMBEDDING] = embedder.encode(samples.baseline_inputs)
        samples.current[INPUT_EMBEDDING] = embedder.encode(samples.current_inputs)
    return drift_report(
        samples.baseline, samples.current, fdr=fdr, categorical=CATEGORICAL, seed=seed
    )


def run_drift_job(
    session: Session,
    store: TraceStore,
    project_id: str,
    windows: DriftWindows,
    *,
    embedder: Embedder | None = None,
    pinned: bool = False,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    embedding_sample_size: int = DEFAULT_EMBEDDING_SAMPLE_SIZE,
) -> DriftReportRecord:
    """Compute and store the project's drift report with each feature's histogram of the
    sampled values (the caller commits); ``pinned`` records that the baseline is the
    project's pinned one."""
    samples = fetch_features(
        store, project_id, windows, sample_size, embedding_sample_size=embedding_sample_size
    )
    histograms = feature_histograms(
        samples.baseline, samples.current, CATEGORICAL, skip=(INPUT_EMBEDDING,)
    )
    report = _report(samples, embedder)
    record = DriftReportRecord(
        project_id=project_id,
        current_start=windows.current_start,
        current_end=windows.current_end,
        baseline_start=windows.baseline_start,
        baseline_end=windows.baseline_end,
        baseline_pinned=pinned,
        drifted=report.drifted,
        features=_feature_json(report, histograms),
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
            "pinned": record.baseline_pinned,
        },
        "drifted": record.drifted,
        "features": record.features,
        "created_at": record.created_at.isoformat(),
    }
