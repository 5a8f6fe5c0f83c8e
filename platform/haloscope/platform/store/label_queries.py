"""SQL of judge-human agreement: each live judge score of one evaluator version beside the
live human scores of one name on the same trace and span. Every value is a bound parameter;
reads use FINAL, so a replaced or deleted score counts as its newest row."""

from __future__ import annotations

from typing import Any

from haloscope.platform.store.base import StoreDriver

# Evidence is read only when it holds a project calibration's record (the uncalibrated score);
# other evidence (per-claim rows) is not needed here. orjson writes it without spaces.
CALIBRATION_EVIDENCE_MARK = '"kind":"calibration"'

_JUDGE_AND_LABELS_SQL = """
SELECT j.trace_id AS trace_id, j.span_id AS span_id,
       toUnixTimestamp64Micro(j.timestamp) AS timestamp_us,
       j.value AS judge_value, j.label AS judge_label, j.calibration_evidence AS calibration_evidence,
       h.value_type AS value_type, h.value AS human_value, h.string_value AS string_value,
       h.author AS author, h.score_id AS score_id, toUnixTimestamp64Micro(h.created_at) AS created_us
FROM (
    SELECT trace_id, span_id, timestamp, value, label,
           if(position(evidence, {mark:String}) > 0, evidence, '') AS calibration_evidence
    FROM scores FINAL
    WHERE project_id = {project_id:String} AND name = {evaluator:String}
      AND evaluator_version = {version:String} AND score_id = '' AND deleted = 0{window}
) AS j
INNER JOIN (
    SELECT trace_id, span_id, value_type, value, string_value, author, score_id, created_at
    FROM scores FINAL
    WHERE project_id = {project_id:String} AND name = {label_name:String}
      AND has({sources:Array(String)}, source) AND deleted = 0
) AS h ON j.trace_id = h.trace_id AND j.span_id = h.span_id
ORDER BY timestamp_us, trace_id, span_id, score_id
LIMIT {limit:UInt32}
"""
_WINDOW = {
    "start_us": " AND timestamp >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')",
    "end_us": " AND timestamp < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')",
}


def judge_and_label_rows(
    driver: StoreDriver,
    project_id: str,
    *,
    evaluator: str,
    version: str,
    label_name: str,
    sources: tuple[str, ...],
    start_us: int | None,
    end_us: int | None,
    limit: int,
) -> list[dict[str, Any]]:
    """One row per (judge score, human score) pair on the same target, at most ``limit``,
    oldest target first: the judge score of ``evaluator`` at ``version`` whose target starts in
    ``[start_us, end_us)`` (None: unbounded), and a human score named ``label_name`` from one
    of ``sources``."""
    params: dict[str, Any] = {
        "project_id": project_id,
        "evaluator": evaluator,
        "version": version,
        "label_name": label_name,
        "sources": list(sources),
        "limit": limit,
        "mark": CALIBRATION_EVIDENCE_MARK,
    }
    window = ""
    for name, bound in (("start_us", start_us), ("end_us", end_us)):
        if bound is not None:
            params[name] = bound
            window += _WINDOW[name]
    return driver.query(_JUDGE_AND_LABELS_SQL.replace("{window}", window), params)
