"""Trace-store reads of the annotation queues: the spans judged by sampling runs (a queue's
items), the spans of an item's trace (what a reviewer reads) and the labels a queue wrote.
Every value is a bound ``{name:Type}`` parameter; reads of ``scores`` use FINAL and skip
deleted rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haloscope.platform.store.base import StoreDriver

# The spans (trace, span) scored by any of the given sampling runs, oldest first.
JUDGED_TARGETS_SQL = """
SELECT trace_id, span_id, min(toUnixTimestamp64Micro(timestamp)) AS start_us
FROM scores FINAL
WHERE project_id = {project_id:String} AND deleted = 0
  AND has({run_ids:Array(String)}, sampling_run_id)
GROUP BY trace_id, span_id
ORDER BY start_us, trace_id, span_id
LIMIT {limit:UInt32}
"""

# What an annotator reads of a trace: every span's place in the tree and the texts the judge
# reads (``jobs/span_inputs.eval_input`` takes these rows as they are).
ITEM_SPANS_SQL = """
SELECT trace_id, span_id, parent_span_id, name, kind,
       toUnixTimestamp64Micro(start_time) AS start_us, input, output, documents
FROM spans FINAL
PREWHERE has({trace_ids:Array(String)}, trace_id)
WHERE project_id = {project_id:String}
ORDER BY trace_id, start_us, span_id
"""

# The live labels a queue wrote: their idempotency keys start with the queue's prefix.
QUEUE_LABELS_SQL = """
SELECT trace_id, span_id, name, value_type, value, string_value, author, comment,
       idempotency_key
FROM scores FINAL
WHERE project_id = {project_id:String} AND deleted = 0 AND source = 'annotation'
  AND startsWith(idempotency_key, {prefix:String})
ORDER BY idempotency_key
"""

TRACES_PER_READ = 500


def judged_targets(
    driver: StoreDriver, project_id: str, run_ids: Sequence[str], limit: int
) -> list[tuple[str, str]]:
    """At most ``limit`` (trace id, span id) pairs scored by the sampling runs ``run_ids``."""
    if not run_ids:
        return []
    params = {"project_id": project_id, "run_ids": list(run_ids), "limit": limit}
    return [(row["trace_id"], row["span_id"]) for row in driver.query(JUDGED_TARGETS_SQL, params)]


def spans_of_traces(
    driver: StoreDriver, project_id: str, trace_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The spans of the project's traces among ``trace_ids`` (raw rows of ITEM_SPANS_SQL, by
    start time), by trace id; read a few hundred traces at a time."""
    ordered = sorted(set(trace_ids))
    found: dict[str, list[dict[str, Any]]] = {}
    for start in range(0, len(ordered), TRACES_PER_READ):
        params = {"project_id": project_id, "trace_ids": ordered[start : start + TRACES_PER_READ]}
        for row in driver.query(ITEM_SPANS_SQL, params):
            found.setdefault(row["trace_id"], []).append(row)
    return found


def labels_with_prefix(driver: StoreDriver, project_id: str, prefix: str) -> list[dict[str, Any]]:
    """The project's live annotation scores whose idempotency key starts with ``prefix``."""
    return driver.query(QUEUE_LABELS_SQL, {"project_id": project_id, "prefix": prefix})
