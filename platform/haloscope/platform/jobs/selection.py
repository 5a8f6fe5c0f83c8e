"""ClickHouse queries of the sampling job: draw a rule's sample, read spans, find scored ones.

The sample is reproducible and uniform: each matching span is ranked by
``cityHash64(span_id, seed)``. A rate keeps spans whose hash falls below ``rate * 2^64``
(stable as the window fills up: a span sampled once stays sampled); a fixed number keeps the
lowest hashes. Spans already scored by every evaluator of the rule are left out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from haloscope.platform.store import TraceStore

HASH_SPACE = 2**64


@dataclass(frozen=True)
class SpanKey:
    """Identifies a stored span; ``start_us`` places it (and its scores) in time."""

    trace_id: str
    span_id: str
    start_us: int


@dataclass(frozen=True)
class SampleRequest:
    """A rule's sample over ``[start_us, end_us)``: filters, the rate or fixed size, the cap,
    the seed and the ``name@version`` keys of its evaluators."""

    project_id: str
    filters: Mapping[str, Any]
    start_us: int
    end_us: int
    sample_rate: float | None
    per_day: int | None
    cap: int
    seed: int
    evaluator_keys: Sequence[str]

    @property
    def limit(self) -> int:
        """Items to draw: a fixed number scales with the window's length in days."""
        if self.per_day is None:
            return self.cap
        days = (self.end_us - self.start_us) / 86_400_000_000
        return max(1, min(self.cap, math.ceil(self.per_day * days)))


def filter_conditions(filters: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """WHERE conditions and bound parameters of a rule's span filters (normalised form)."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for key, column in (("kinds", "kind"), ("names", "name"), ("models", "model")):
        if filters.get(key):
            conditions.append(f"{column} IN {{{key}:Array(String)}}")
            params[key] = list(filters[key])
    if filters.get("tags"):
        conditions.append("hasAll(tags, {tags:Array(String)})")
        params["tags"] = list(filters["tags"])
    if filters.get("release"):
        conditions.append("release = {release:String}")
        params["release"] = filters["release"]
    for position, (key, value) in enumerate(sorted((filters.get("metadata") or {}).items())):
        conditions.append(
            f"metadata[{{meta_key_{position}:String}}] = {{meta_value_{position}:String}}"
        )
        params[f"meta_key_{position}"] = key
        params[f"meta_value_{position}"] = value
    return conditions, params


def sample_sql(request: SampleRequest) -> tuple[str, dict[str, Any]]:
    """The query drawing ``request``'s sample, and its parameters."""
    conditions, params = filter_conditions(request.filters)
    params |= {
        "project_id": request.project_id,
        "start_us": request.start_us,
        "end_us": request.end_us,
        "seed": request.seed,
        "limit": request.limit,
        "evaluator_keys": list(request.evaluator_keys),
        "n_evaluators": len(set(request.evaluator_keys)),
    }
    if request.sample_rate is not None:
        conditions.append("cityHash64(span_id, {seed:UInt64}) < {hash_cut:UInt64}")
        params["hash_cut"] = min(HASH_SPACE - 1, int(request.sample_rate * HASH_SPACE))
    where = " AND ".join(
        [
            "project_id = {project_id:String}",
            "start_time >= fromUnixTimestamp64Micro({start_us:Int64}, 'UTC')",
            "start_time < fromUnixTimestamp64Micro({end_us:Int64}, 'UTC')",
            # A call that failed without an answer has nothing to judge (errors are their own
            # metric); counted as failed items it would hide the judge's real failures.
            "NOT (status = 'error' AND output = '')",
            *conditions,
        ]
    )
    sql = f"""
        SELECT trace_id, span_id, toUnixTimestamp64Micro(start_time) AS start_us
        FROM spans FINAL
        WHERE {where}
          AND (trace_id, span_id) NOT IN (
            SELECT trace_id, span_id FROM scores
            WHERE project_id = {{project_id:String}}
              AND concat(name, '@', evaluator_version) IN {{evaluator_keys:Array(String)}}
            GROUP BY trace_id, span_id
            HAVING uniqExact(name, evaluator_version) >= {{n_evaluators:UInt32}}
          )
        ORDER BY cityHash64(span_id, {{seed:UInt64}}), span_id
        LIMIT {{limit:UInt32}}
    """  # noqa: S608 - code-built conditions, values bound
    return sql, params


def draw_sample(store: TraceStore, request: SampleRequest) -> list[SpanKey]:
    """The sampled spans, in hash order."""
    sql, params = sample_sql(request)
    return [
        SpanKey(row["trace_id"], row["span_id"], int(row["start_us"]))
        for row in store.driver.query(sql, params)
    ]


SPANS_FOR_JUDGING_SQL = """
    SELECT trace_id, span_id, input, output, documents, metadata
    FROM spans FINAL
    WHERE project_id = {project_id:String}
      AND trace_id IN {trace_ids:Array(String)}
      AND (span_id IN {span_ids:Array(String)} OR (kind = 'retrieval' AND documents != ''))
    ORDER BY trace_id, start_time, span_id
"""

SCORED_SPANS_SQL = """
    SELECT span_id, any(sampling_run_id) AS sampling_run_id
    FROM scores
    WHERE project_id = {project_id:String}
      AND trace_id IN {trace_ids:Array(String)}
      AND span_id IN {span_ids:Array(String)}
      AND name = {name:String}
      AND evaluator_version = {version:String}
    GROUP BY span_id
"""


def read_spans_with_context(
    store: TraceStore, project_id: str, keys: Sequence[SpanKey]
) -> tuple[dict[str, dict[str, Any]], dict[str, list[str]]]:
    """The spans of ``keys`` by span id, and per trace the documents' JSON texts of its
    retrieval spans (in start order), which serve as context of the trace's other spans."""
    params = {
        "project_id": project_id,
        "trace_ids": sorted({k.trace_id for k in keys}),
        "span_ids": [k.span_id for k in keys],
    }
    wanted = set(params["span_ids"])
    spans: dict[str, dict[str, Any]] = {}
    documents: dict[str, list[str]] = {}
    for row in store.driver.query(SPANS_FOR_JUDGING_SQL, params):
        if row["span_id"] in wanted:
            spans[row["span_id"]] = row
        if row["documents"]:
            documents.setdefault(row["trace_id"], []).append(row["documents"])
    return spans, documents


def scored_spans(
    store: TraceStore, project_id: str, keys: Sequence[SpanKey], name: str, version: str
) -> dict[str, str]:
    """Which of ``keys`` already have a score from evaluator ``name`` at ``version``: span id
    to the sampling run that wrote it."""
    params = {
        "project_id": project_id,
        "trace_ids": sorted({k.trace_id for k in keys}),
        "span_ids": [k.span_id for k in keys],
        "name": name,
        "version": version,
    }
    rows = store.driver.query(SCORED_SPANS_SQL, params)
    return {row["span_id"]: row["sampling_run_id"] for row in rows}
