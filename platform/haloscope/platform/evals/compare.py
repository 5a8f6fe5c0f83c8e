"""Item-by-item comparison of two or more recorded eval runs on the same dataset version.

The first run is the baseline; each other run (a candidate) is compared with it item by item
(items paired by id, as the gate pairs them). Each metric of each paired item gets the badge
of :func:`~haloscope.platform.evals.scoring.item_change` (the rule the gate counts its improved
and regressed items with), read from the run summaries' per-item rule (direction, pass
threshold). Filters and the sort work on every item of the runs (their scores are read
without any text), then only the shown page's outputs are read and diffed word by word.
"""

from __future__ import annotations

import difflib
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from haloscope.platform.evals.config import MetricSpec
from haloscope.platform.evals.items import display_text
from haloscope.platform.evals.jsonutil import content_hash
from haloscope.platform.evals.scoring import (
    IMPROVED,
    REGRESSED,
    UNCHANGED,
    change_of,
    metric_from_summary,
    oriented_change,
)
from haloscope.platform.store.eval_items import EvalItemStore

MAX_RUNS = 6
PAGE_SIZE = 50
# How the store joins an item's tags (uploads refuse control characters in tags).
TAG_SEPARATOR = "\x1f"
# ScoreTables kept per process (two runs of 10,000 items take a few MB).
CACHED_TABLES = 8
SORTS = ("position", "regressed", "improved")
# Longer outputs are shown without a word diff (difflib is quadratic in the worst case).
MAX_DIFF_TOKENS = 4000
_TOKENS = re.compile(r"\s+|[^\s]+")


class CompareError(ValueError):
    """The runs cannot be compared item by item; the message says why."""


@dataclass(frozen=True)
class CompareQuery:
    """What the page shows: only regressed items, one metric, one tag, the order and page."""

    regressed_only: bool = False
    metric: str | None = None
    tag: str | None = None
    sort: str = "position"
    page: int = 1


class Cell(NamedTuple):
    """One metric of one item in one run: its score and, against the baseline, the badge and
    the change (oriented so that positive is better). A tuple: tens of thousands are built
    per page."""

    score: float | None
    change: str | None = None
    delta: float | None = None


@dataclass
class ItemRow:
    """One shown item across the runs (``index``: its place in the ScoreTable): its cells per
    run (absent: not in that run), its text, each run's output and each candidate's word
    diff."""

    item_id: str
    position: int
    tags: tuple[str, ...]
    index: int
    cells: dict[str, dict[str, Cell]] = field(default_factory=dict)
    regressed: bool = False
    sort_key: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Counts:
    """Per-item outcomes of one metric in one candidate against the baseline."""

    improved: int = 0
    regressed: int = 0
    unchanged: int = 0


@dataclass
class Comparison:
    """The page's data: the runs, their metrics' rules, per (candidate, metric) counts over
    every paired item, and the filtered, sorted page of items."""

    runs: list[dict[str, Any]]
    metrics: list[MetricSpec]
    counts: dict[tuple[str, str], Counts]
    tags: list[str]
    total_items: int
    matching: int
    rows: list[ItemRow]
    query: CompareQuery
    pages: int
    stored_items: dict[str, int]

    @property
    def baseline(self) -> dict[str, Any]:
        """The first run."""
        return self.runs[0]

    @property
    def candidates(self) -> list[dict[str, Any]]:
        """Every run after the first."""
        return self.runs[1:]


def check_comparable(runs: Sequence[Mapping[str, Any]]) -> None:
    """CompareError unless there are 2..MAX_RUNS distinct runs of one dataset version."""
    if len(runs) < 2:
        raise CompareError("Choose at least two runs: a baseline and a candidate.")
    if len(runs) > MAX_RUNS:
        raise CompareError(f"Compare at most {MAX_RUNS} runs at once.")
    ids = [r["run_id"] for r in runs]
    if len(set(ids)) != len(ids):
        raise CompareError("A run appears twice; choose distinct runs.")
    versions = {(r["dataset"], r["dataset_version"]) for r in runs}
    if len(versions) > 1:
        named = ", ".join(f"{r['run_id']}: {r['dataset']}@{r['dataset_version']}" for r in runs)
        raise CompareError(
            "Item-by-item comparison needs runs of the same dataset version; these scored "
            f"different ones ({named})."
        )


def run_metrics(runs: Sequence[Mapping[str, Any]]) -> list[MetricSpec]:
    """Every metric of the runs (the baseline's order first), with the per-item rule of the
    newest run that has it."""
    summaries: dict[str, Mapping[str, Any]] = {}
    for run in runs:
        for name, summary in (run.get("summary") or {}).items():
            if isinstance(summary, Mapping):
                summaries[name] = summary
    names = list(dict.fromkeys(n for run in runs for n in (run.get("summary") or {})))
    return [metric_from_summary(name, summaries[name]) for name in names if name in summaries]


@dataclass
class ScoreTable:
    """Every item of the runs (dataset order) with, per run, its row of ``scores`` (one column
    per metric, NaN where there is none; ``rows[run][k]`` is item k's row, -1 when the run lacks
    it), which metrics each run measured, the (candidate run, metric index) pairs compared
    (where both the candidate and the baseline measured the metric, as the gate compares),
    each item's change in each pair (``deltas``: one row per pair, NaN where the item is not in
    both runs) and per pair the improved/regressed/unchanged counts.

    Built from flat arrays with numpy, so a comparison of 10,000-item runs allocates few Python
    objects (their garbage collection, not the arithmetic, dominated the first view)."""

    metrics: Sequence[MetricSpec]
    measured: dict[str, set[str]]
    scores: np.ndarray
    rows: dict[str, np.ndarray]
    pairs: list[tuple[str, int]]
    item_ids: list[str]
    positions: list[int]
    tags: list[str]
    deltas: np.ndarray
    counts: dict[tuple[str, str], Counts]

    @classmethod
    def of(
        cls,
        runs: Sequence[Mapping[str, Any]],
        metrics: Sequence[MetricSpec],
        columns: Mapping[str, Sequence[Any]],
    ) -> ScoreTable:
        """The table of ``EvalItemStore.run_scores``' arrays (scores aligned with ``metrics``)."""
        measured = {r["run_id"]: set(r.get("summary") or {}) for r in runs}
        item_ids, positions = columns["item_ids"], columns["positions"]
        scores = np.array(columns["scores"], dtype=float).reshape(len(item_ids), len(metrics))
        by_run: dict[str, dict[str, int]] = {r["run_id"]: {} for r in runs}
        first: dict[str, int] = {}
        for row, (run_id, item_id) in enumerate(zip(columns["run_ids"], item_ids, strict=True)):
            by_run[run_id][item_id] = row
            first.setdefault(item_id, row)
        order = [item_id for _, item_id in sorted((positions[r], i) for i, r in first.items())]
        rows = {
            run_id: np.array([items.get(item_id, -1) for item_id in order], dtype=np.int64)
            for run_id, items in by_run.items()
        }
        baseline_id = runs[0]["run_id"]
        pairs = [
            (r["run_id"], i)
            for r in runs[1:]
            for i, m in enumerate(metrics)
            if m.name in measured[r["run_id"]] and m.name in measured[baseline_id]
        ]
        deltas = np.full((len(pairs), len(order)), np.nan)
        counts = {}
        for k, (run_id, i) in enumerate(pairs):
            deltas[k], counts[(run_id, metrics[i].name)] = _pair_changes(
                metrics[i], scores[:, i], rows[baseline_id], rows[run_id]
            )
        tags = columns["tags"]
        return cls(
            metrics,
            measured,
            scores,
            rows,
            pairs,
            order,
            [int(positions[first[item_id]]) for item_id in order],
            [tags[first[item_id]] for item_id in order],
            deltas,
            counts,
        )

    def tags_of(self, index: int) -> tuple[str, ...]:
        """Item ``index``'s tags (kept joined by TAG_SEPARATOR until shown)."""
        return tuple(t for t in self.tags[index].split(TAG_SEPARATOR) if t)

    def all_tags(self) -> list[str]:
        """Every tag of the runs' items, sorted."""
        return sorted({t for joined in set(self.tags) for t in joined.split(TAG_SEPARATOR) if t})

    def fill_cells(self, row: ItemRow) -> None:
        """The row's cells: each run's score of each metric it measured, with the badge and
        change where the pair is compared."""
        deltas = dict(zip(self.pairs, self.deltas[:, row.index].tolist(), strict=True))
        for run_id, rows in self.rows.items():
            stored = int(rows[row.index])
            if stored < 0:
                continue
            cells = row.cells[run_id] = {}
            for i, metric in enumerate(self.metrics):
                if metric.name not in self.measured[run_id]:
                    continue
                score = _score(float(self.scores[stored, i]))
                delta = deltas.get((run_id, i))
                if delta is None or math.isnan(delta):
                    cells[metric.name] = Cell(score)
                else:
                    cells[metric.name] = Cell(score, change_of(delta), delta)


def _score(value: float) -> float | None:
    """A stored score back from the table: NaN or the missing-score key (inf) is None."""
    return None if math.isnan(value) or math.isinf(value) else value


def _pair_changes(
    metric: MetricSpec, scores: np.ndarray, baseline: np.ndarray, candidate: np.ndarray
) -> tuple[np.ndarray, Counts]:
    """Each item's :func:`oriented_change` on ``metric`` from the baseline to the candidate
    (``scores`` the metric's column, ``baseline``/``candidate`` each item's row or -1), NaN
    where it is not in both runs, and the counts of its badges. The rule runs once per distinct
    (baseline, candidate) score pair: a pass rate or a coarse score repeats a few pairs over
    thousands of items. Within compared runs an item without a score counts as failed, as in
    the gate."""
    both = (baseline >= 0) & (candidate >= 0)
    # A missing score (NaN) keyed as inf: stored scores are finite, so the two never mix.
    pairs = np.nan_to_num(
        np.stack([scores[baseline[both]], scores[candidate[both]]], axis=1), nan=np.inf
    )
    changes = np.full(len(baseline), np.nan)
    if not len(pairs):
        return changes, Counts()
    # One complex number per pair (a 1-D unique sorts far faster than rows, axis=0), built
    # part by part: arithmetic would turn an infinite part into NaN.
    keys = np.empty(len(pairs), dtype=complex)
    keys.real, keys.imag = pairs[:, 0], pairs[:, 1]
    distinct, inverse = np.unique(keys, return_inverse=True)
    values = np.array(
        [oriented_change(metric, _score(z.real), _score(z.imag)) for z in distinct.tolist()]
    )
    changes[both] = values[inverse.ravel()]
    seen = np.bincount(inverse.ravel(), minlength=len(distinct))
    tally = {IMPROVED: 0, REGRESSED: 0, UNCHANGED: 0}
    for value, count in zip(values.tolist(), seen.tolist(), strict=True):
        tally[change_of(value)] += count
    return changes, Counts(tally[IMPROVED], tally[REGRESSED], tally[UNCHANGED])


def select(table: ScoreTable, query: CompareQuery) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The items the query keeps (their indexes in the table, in the query's order; ties in
    dataset order), and for every item whether it regressed and its sort key: regressed means
    worse in some compared pair (of the query's metric, when it names one), the key is the sum
    of those changes."""
    compared = [
        k
        for k, (_, i) in enumerate(table.pairs)
        if query.metric is None or table.metrics[i].name == query.metric
    ]
    deltas = table.deltas[compared]
    regressed = (deltas < 0).any(axis=0)
    key = np.nansum(deltas, axis=0)
    keep = np.ones(len(table.item_ids), dtype=bool)
    if query.tag is not None:
        wanted = f"{TAG_SEPARATOR}{query.tag}{TAG_SEPARATOR}"
        keep &= np.fromiter(
            (wanted in f"{TAG_SEPARATOR}{t}{TAG_SEPARATOR}" for t in table.tags),
            bool,
            len(table.tags),
        )
    if query.regressed_only:
        keep &= regressed
    kept = np.flatnonzero(keep)
    if query.sort == "regressed":
        kept = kept[np.argsort(key[kept], kind="stable")]
    elif query.sort == "improved":
        kept = kept[np.argsort(-key[kept], kind="stable")]
    return kept, regressed, key


def word_diff(before: str, after: str) -> list[tuple[str, str]] | None:
    """``before`` -> ``after`` as ``(op, text)`` segments, op ``equal``, ``delete`` or
    ``insert``, compared word by word (whitespace runs are tokens too, so the segments rebuild
    both texts exactly); None when either text is too long to diff."""
    a, b = _TOKENS.findall(before), _TOKENS.findall(after)
    if len(a) > MAX_DIFF_TOKENS or len(b) > MAX_DIFF_TOKENS:
        return None
    segments: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("equal", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(("delete", "".join(a[i1:i2])))
        if j2 > j1:
            segments.append(("insert", "".join(b[j1:j2])))
    return segments


def _details(
    rows: Sequence[ItemRow], full: Sequence[Mapping[str, Any]], runs: Sequence[Mapping[str, Any]]
) -> None:
    by_key = {(r["run_id"], r["item_id"]): r for r in full}
    baseline_id = runs[0]["run_id"]
    for row in rows:
        stored = {run["run_id"]: by_key.get((run["run_id"], row.item_id)) for run in runs}
        first = next((s for s in stored.values() if s is not None), None)
        base = stored.get(baseline_id)
        outputs = {}
        for run_id, item in stored.items():
            if item is None:
                continue
            outputs[run_id] = {
                "output": item["output"],
                "error": item["error"],
                "latency_ms": float(item["latency_ms"]),
                "metrics": {
                    name: {"label": label, "reason": reason, "error": error}
                    for name, label, reason, error in zip(
                        item["metric_names"],
                        item["metric_labels"],
                        item["metric_reasons"],
                        item["metric_errors"],
                        strict=True,
                    )
                },
                "diff": (
                    word_diff(base["output"], item["output"])
                    if base is not None and run_id != baseline_id
                    else None
                ),
            }
        row.details = {
            "input": display_text(first["input"]) if first else "",
            "expected_output": display_text(first["expected_output"]) if first else "",
            "outputs": outputs,
        }


_TABLES: OrderedDict[tuple[Any, ...], ScoreTable] = OrderedDict()
_TABLES_LOCK = threading.Lock()


def score_table(
    store: EvalItemStore,
    project_id: str,
    runs: Sequence[Mapping[str, Any]],
    metrics: Sequence[MetricSpec],
) -> ScoreTable:
    """The runs' ScoreTable, kept for the next views of the same comparison (pages, filters,
    orders) in a small per-process cache keyed by the runs' stored state (rows and newest write
    per run) and their metric rules, so a changed run is read again."""
    run_ids = [r["run_id"] for r in runs]
    key = (
        project_id,
        tuple(run_ids),
        content_hash([r.get("summary") for r in runs]),
        store.run_stamps(project_id, run_ids),
    )
    with _TABLES_LOCK:
        table = _TABLES.get(key)
        if table is not None:
            _TABLES.move_to_end(key)
            return table
    names = [m.name for m in metrics]
    table = ScoreTable.of(runs, metrics, store.run_scores(project_id, run_ids, names))
    with _TABLES_LOCK:
        _TABLES[key] = table
        while len(_TABLES) > CACHED_TABLES:
            _TABLES.popitem(last=False)
    return table


def clear_cache() -> None:
    """Forget every cached ScoreTable (benchmarks measure the first view with it)."""
    with _TABLES_LOCK:
        _TABLES.clear()


def compare_runs(
    store: EvalItemStore,
    project_id: str,
    runs: Sequence[dict[str, Any]],
    query: CompareQuery,
) -> Comparison:
    """The comparison of ``runs`` (recorded runs of the project, the baseline first) as the
    query asks for it; CompareError when they cannot be compared or the query is invalid."""
    check_comparable(runs)
    metrics = run_metrics(runs)
    names = [m.name for m in metrics]
    if query.metric is not None and query.metric not in names:
        raise CompareError(f"The runs have no metric {query.metric!r}; they have {names}.")
    if query.sort not in SORTS:
        raise CompareError(f"Sort by one of {list(SORTS)}.")
    run_ids = [r["run_id"] for r in runs]
    table = score_table(store, project_id, runs, metrics)
    kept, regressed, key = select(table, query)
    pages = max(1, math.ceil(len(kept) / PAGE_SIZE))
    page = min(max(query.page, 1), pages)
    shown = []
    for index in kept[(page - 1) * PAGE_SIZE : page * PAGE_SIZE].tolist():
        row = ItemRow(
            table.item_ids[index],
            table.positions[index],
            table.tags_of(index),
            index,
            regressed=bool(regressed[index]),
            sort_key=float(key[index]),
        )
        table.fill_cells(row)
        shown.append(row)
    _details(shown, store.items(project_id, run_ids, [r.item_id for r in shown]), runs)
    return Comparison(
        runs=list(runs),
        metrics=metrics,
        counts=table.counts,
        tags=table.all_tags(),
        total_items=len(table.item_ids),
        matching=len(kept),
        rows=shown,
        query=CompareQuery(query.regressed_only, query.metric, query.tag, query.sort, page),
        pages=pages,
        stored_items={r: int((table.rows[r] >= 0).sum()) for r in run_ids},
    )
