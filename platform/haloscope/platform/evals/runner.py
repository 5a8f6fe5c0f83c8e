"""``haloscope eval run``: the target over a dataset version, then every metric's scorer.

Targets run concurrently in threads (a command target runs one subprocess per item); cached
outputs skip the target. Evaluators then score all items in one batch each; custom scorers
are called per item as ``scorer(item, output, contexts)`` and return a number, a bool, or
``{"score": x, "label": y}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from haloscope.evaluators import EvalInput, Evaluator
from haloscope.platform.evals.config import EvalConfig
from haloscope.platform.evals.datasets import DatasetItem, DatasetVersion
from haloscope.platform.evals.jsonutil import content_hash
from haloscope.platform.evals.progress import ProgressBar
from haloscope.platform.evals.runs import ItemRecord, RunRecord, git_info, new_run_id
from haloscope.platform.evals.scoring import summarize
from haloscope.platform.evals.targets import OutputCache, Target, TargetError, TargetOutput


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# A target's answer to one item: its output (None on failure), the error, whether it came
# from the cache, and the target's time on it in ms (None when cached).
Outcome = tuple[TargetOutput | None, str | None, bool, float | None]
# Called after each item's target call with (items done, items in the run).
ProgressCallback = Callable[[int, int], None]


def _run_target(target: Target, item: DatasetItem, cache: OutputCache | None) -> Outcome:
    key = cache.key(target, item) if cache is not None and target.cacheable else None
    if key is not None and (hit := cache.get(key)) is not None:  # type: ignore[union-attr]
        return hit, None, True, None
    started = time.perf_counter()
    try:
        output = target(item)
    except TargetError as exc:
        return None, str(exc), False, (time.perf_counter() - started) * 1000
    latency_ms = (time.perf_counter() - started) * 1000
    if key is not None:
        cache.put(key, output)  # type: ignore[union-attr]
    return output, None, False, latency_ms


def _record(item: DatasetItem, outcome: Outcome) -> ItemRecord:
    output, error, cached, latency_ms = outcome
    contexts = (
        output.contexts if output is not None and output.contexts is not None else item.context
    )
    return ItemRecord(
        id=item.id,
        input_hash=content_hash(item.input),
        output=output.output if output is not None else None,
        contexts=list(contexts),
        error=error,
        cached=cached,
        latency_ms=latency_ms,
    )


def _score_with_evaluator(
    name: str, evaluator: Evaluator, items: Sequence[DatasetItem], records: Sequence[ItemRecord]
) -> None:
    scorable = [(i, r) for i, r in zip(items, records, strict=True) if r.error is None]
    inputs = [
        EvalInput(
            input=_as_text(item.input),
            output=record.output or "",
            contexts=tuple(record.contexts or ()),
            reference=_as_text(item.expected_output) or None,
            metadata=dict(item.metadata or {}),
        )
        for item, record in scorable
    ]
    results = evaluator.evaluate(inputs) if inputs else []
    for (_, record), result in zip(scorable, results, strict=True):
        record.scores[name] = result.score
        record.labels[name] = result.label
        record.reasons[name] = result.reason
        record.metric_latency_ms[name] = result.latency_ms
        if result.error:
            record.metric_errors[name] = result.error
    for record in records:
        if record.error is not None:
            record.scores[name] = None
            record.metric_errors[name] = "target failed"


def _custom_score(value: Any) -> tuple[float, str | None]:
    if isinstance(value, bool):
        return (1.0 if value else 0.0), ("pass" if value else "fail")
    if isinstance(value, int | float):
        return float(value), None
    if isinstance(value, Mapping) and isinstance(value.get("score"), int | float):
        return float(value["score"]), value.get("label")
    raise TypeError(f"a scorer must return a number, a bool or {{'score': x}}, got {value!r:.100}")


def _score_with_function(
    name: str,
    scorer: Callable[..., Any],
    items: Sequence[DatasetItem],
    records: Sequence[ItemRecord],
) -> None:
    for item, record in zip(items, records, strict=True):
        if record.error is not None:
            record.scores[name] = None
            record.metric_errors[name] = "target failed"
            continue
        started = time.perf_counter()
        try:
            score, label = _custom_score(
                scorer(item.as_dict(), record.output, record.contexts or [])
            )
        except Exception as exc:  # a scorer bug is reported per item, not fatal to the run
            record.scores[name] = None
            record.metric_errors[name] = f"{type(exc).__name__}: {exc}"
            continue
        finally:
            record.metric_latency_ms[name] = (time.perf_counter() - started) * 1000
        record.scores[name] = score
        record.labels[name] = label


def run_eval(
    dataset: DatasetVersion,
    target: Target,
    config: EvalConfig,
    scorers: Mapping[str, Evaluator | Callable[..., Any]],
    *,
    cache: OutputCache | None = None,
    concurrency: int | None = None,
    progress: bool = True,
    run_id: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> RunRecord:
    """Run ``target`` on every item of ``dataset``, score each metric and summarise;
    ``on_progress`` hears of each finished target call (from the worker threads)."""
    items = dataset.items
    bar = ProgressBar(len(items), f"{dataset.name}@{dataset.version}", enabled=progress)

    def one(item: DatasetItem) -> ItemRecord:
        record = _record(item, _run_target(target, item, cache))
        done = bar.advance()
        if on_progress is not None:
            on_progress(done, len(items))
        return record

    with ThreadPoolExecutor(max_workers=concurrency or config.concurrency) as pool:
        records = list(pool.map(one, items))
    for metric in config.metrics:
        scorer = scorers[metric.name]
        if isinstance(scorer, Evaluator):
            _score_with_evaluator(metric.name, scorer, items, records)
        else:
            _score_with_function(metric.name, scorer, items, records)
    return RunRecord(
        run_id=run_id or new_run_id(),
        created_at=datetime.now(UTC).isoformat(),
        dataset={"name": dataset.name, "version": dataset.version, "hash": dataset.content_hash},
        target=target.identity,
        config_digest=config.digest,
        git=git_info(),
        items=records,
        summary=summarize(records, config),
    )
