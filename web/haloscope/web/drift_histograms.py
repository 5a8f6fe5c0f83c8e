"""Baseline-vs-current histograms of a drift report's features, counted in ClickHouse over the
report's two windows.

Numeric features are binned on the baseline's deciles (the bins the drift test's PSI uses,
``(-inf, e0], (e0, e1], ..., (e_last, inf)``): each baseline bar holds about a tenth of the
baseline and a shift shows as current bars piling up at one side. ``error`` has two bins (ok,
error). Bars are shares of their window, so windows of different traffic compare.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haloscope.platform.jobs.drift_job import SCORE_PREFIX, DriftWindows
from haloscope.platform.store import TraceStore

DECILES = ", ".join(f"{q / 10:.1f}" for q in range(1, 10))
ERROR = "error"
# The drift job's numeric span features and their value expressions over `spans`; those in
# LLM_ONLY count LLM spans only.
SPAN_VALUES: dict[str, str] = {
    "latency_ms": "toFloat64(duration_us) / 1000",
    "total_tokens": "toFloat64(total_tokens)",
    "cost": "cost",
    "input_length": "toFloat64(length(input))",
    "output_length": "toFloat64(length(output))",
}
LLM_ONLY = frozenset({"total_tokens", "cost", "input_length", "output_length"})

_WINDOWS = """
    WHERE project_id = {{project_id:String}}
      AND {column} >= fromUnixTimestamp64Micro({{baseline_start_us:Int64}}, 'UTC')
      AND {column} < fromUnixTimestamp64Micro({{current_end_us:Int64}}, 'UTC')
      AND ({column} < fromUnixTimestamp64Micro({{baseline_end_us:Int64}}, 'UTC')
           OR {column} >= fromUnixTimestamp64Micro({{current_start_us:Int64}}, 'UTC'))
"""
_SIDE = "toUInt8({column} >= fromUnixTimestamp64Micro({{current_start_us:Int64}}, 'UTC'))"
_SETTINGS = "SETTINGS do_not_merge_across_partitions_select_final = 1"
_SPAN_WHERE, _SPAN_SIDE = _WINDOWS.format(column="start_time"), _SIDE.format(column="start_time")
_SCORE_WHERE, _SCORE_SIDE = _WINDOWS.format(column="timestamp"), _SIDE.format(column="timestamp")


def _value_filter(feature: str) -> str:
    return "kind = 'llm'" if feature in LLM_ONLY else "1"


_SPAN_QUANTILES = ", ".join(
    f"quantilesIf({DECILES})({expr}, {_value_filter(name)}) AS `q_{name}`"
    for name, expr in SPAN_VALUES.items()
)
# Per feature: (bin indexes, counts), a value's bin being the number of edges below it; the
# edges are bound parameters.
_SPAN_COUNTS = ", ".join(
    f"sumMapIf([toUInt32(arrayCount(e -> e < {expr}, {{edges_{name}:Array(Float64)}}))], "
    f"[toUInt64(1)], {_value_filter(name)}) AS `h_{name}`"
    for name, expr in SPAN_VALUES.items()
)
SPAN_QUANTILES_SQL = f"""
    SELECT {_SPAN_SIDE} AS is_current, {_SPAN_QUANTILES}
    FROM spans FINAL {_SPAN_WHERE}
    GROUP BY is_current {_SETTINGS}
"""  # noqa: S608 - constant fragments only
SPAN_COUNTS_SQL = f"""
    SELECT {_SPAN_SIDE} AS is_current, {_SPAN_COUNTS},
        countIf(status != 'error') AS ok, countIf(status = 'error') AS errors
    FROM spans FINAL {_SPAN_WHERE}
    GROUP BY is_current {_SETTINGS}
"""  # noqa: S608 - constant fragments only
SCORE_QUANTILES_SQL = f"""
    SELECT {_SCORE_SIDE} AS is_current, name, quantiles({DECILES})(value) AS q
    FROM scores FINAL {_SCORE_WHERE}
    GROUP BY is_current, name {_SETTINGS}
"""  # noqa: S608 - constant fragments only
SCORE_COUNTS_SQL = f"""
    SELECT {_SCORE_SIDE} AS is_current, name,
        indexOf({{names:Array(String)}}, name) AS position,
        sumMap([toUInt32(arrayCount(e -> e < value, arraySlice(
            {{edges:Array(Float64)}}, {{offsets:Array(UInt32)}}[position],
            {{sizes:Array(UInt32)}}[position]
        )))], [toUInt64(1)]) AS h
    FROM scores FINAL {_SCORE_WHERE} AND has({{names:Array(String)}}, name)
    GROUP BY is_current, name {_SETTINGS}
"""  # noqa: S608 - constant fragments only


@dataclass(frozen=True)
class Histogram:
    """Counts per bin of both windows over the same bins (``labels``)."""

    labels: list[str]
    baseline: list[int]
    current: list[int]

    @staticmethod
    def _shares(counts: Sequence[int]) -> list[float]:
        total = sum(counts)
        return [c / total if total else 0.0 for c in counts]

    @property
    def baseline_shares(self) -> list[float]:
        """Baseline counts as fractions of the baseline window."""
        return self._shares(self.baseline)

    @property
    def current_shares(self) -> list[float]:
        """Current counts as fractions of the current window."""
        return self._shares(self.current)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def bin_labels(edges: Sequence[float]) -> list[str]:
    """Labels of the bins ``(-inf, e0], (e0, e1], ..., (e_last, inf)``."""
    if not edges:
        return ["all values"]
    inner = [f"{_number(a)}–{_number(b)}" for a, b in zip(edges, edges[1:], strict=False)]
    return [f"≤ {_number(edges[0])}", *inner, f"> {_number(edges[-1])}"]


def _edges(by_side: dict[int, Sequence[float]]) -> list[float]:
    """Distinct finite deciles of the baseline, or of the current window without a baseline."""
    for side in (0, 1):
        finite = sorted({float(v) for v in by_side.get(side, ()) if math.isfinite(v)})
        if finite:
            return finite
    return []


def _counts(pairs: Any, size: int) -> list[int]:
    """A ``sumMap`` result (bin indexes, counts) as a dense list of ``size`` counts."""
    dense = [0] * size
    if pairs:
        keys, values = pairs
        for key, value in zip(keys, values, strict=True):
            dense[int(key)] = int(value)
    return dense


def _histograms(
    rows: list[dict[str, Any]], edges: dict[str, list[float]], column: str
) -> dict[str, Histogram]:
    by_side = {int(row["is_current"]): row for row in rows}
    result = {}
    for feature, feature_edges in edges.items():
        size = len(feature_edges) + 1
        sides = [
            _counts(by_side[s][column.format(feature)], size) if s in by_side else [0] * size
            for s in (0, 1)
        ]
        if sum(sides[0]) + sum(sides[1]):
            result[feature] = Histogram(bin_labels(feature_edges), sides[0], sides[1])
    return result


def span_histograms(
    store: TraceStore, project_id: str, windows: DriftWindows
) -> dict[str, Histogram]:
    """Histograms of the span features (latency, error, tokens, cost, input/output length)."""
    params: dict[str, Any] = {"project_id": project_id, **windows.params()}
    rows = store.driver.query(SPAN_QUANTILES_SQL, params)
    quantile_rows = {int(row["is_current"]): row for row in rows}
    edges = {
        name: _edges({s: row[f"q_{name}"] for s, row in quantile_rows.items()})
        for name in SPAN_VALUES
    }
    params.update({f"edges_{name}": value for name, value in edges.items()})
    rows = store.driver.query(SPAN_COUNTS_SQL, params)
    result = _histograms(rows, edges, "h_{}")
    by_side = {int(row["is_current"]): row for row in rows}
    errors = [[int(by_side[s][k]) if s in by_side else 0 for k in ("ok", "errors")] for s in (0, 1)]
    if sum(errors[0]) + sum(errors[1]):
        result[ERROR] = Histogram(["ok", "error"], errors[0], errors[1])
    return result


def score_histograms(
    store: TraceStore, project_id: str, windows: DriftWindows
) -> dict[str, Histogram]:
    """Histograms of every score name's values, keyed ``score:<name>`` like the report."""
    params: dict[str, Any] = {"project_id": project_id, **windows.params()}
    rows = store.driver.query(SCORE_QUANTILES_SQL, params)
    quantiles: dict[str, dict[int, Sequence[float]]] = {}
    for row in rows:
        quantiles.setdefault(row["name"], {})[int(row["is_current"])] = row["q"]
    names = sorted(quantiles)
    if not names:
        return {}
    edges = [_edges(quantiles[name]) for name in names]
    # The edges of every name flattened into one array parameter, sliced per name.
    sizes = [len(e) for e in edges]
    offsets = [1 + sum(sizes[:i]) for i in range(len(sizes))]
    flat = [edge for name_edges in edges for edge in name_edges]
    rows = store.driver.query(
        SCORE_COUNTS_SQL,
        {**params, "names": names, "edges": flat, "offsets": offsets, "sizes": sizes},
    )
    result = {}
    for name, name_edges in zip(names, edges, strict=True):
        mine = [row for row in rows if row["name"] == name]
        for feature, histogram in _histograms(mine, {name: name_edges}, "h").items():
            result[SCORE_PREFIX + feature] = histogram
    return result


def report_histograms(
    store: TraceStore, project_id: str, windows: DriftWindows
) -> dict[str, Histogram]:
    """Every histogrammable feature of a drift report's windows (all but embeddings)."""
    return {
        **span_histograms(store, project_id, windows),
        **score_histograms(store, project_id, windows),
    }
