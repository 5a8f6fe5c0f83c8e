"""Judge-human agreement of one evaluator version in one project: accuracy, Cohen's kappa and
the confusion matrix of the stored judge decisions against people's majority labels, with
seeded percentile bootstrap intervals, and the items where they disagree."""

from __future__ import annotations

from typing import Any

import numpy as np
from haloscope.evaluators.agreement import DEFAULT_SAMPLES, Estimate, agreement
from haloscope.platform.feedback.labels import LabelledItem, LabelQuery, labelled_items
from haloscope.platform.store.base import StoreDriver

MAX_DISAGREEMENTS = 200


def _estimate(estimate: Estimate) -> dict[str, float | None]:
    return {"value": estimate.value, "low": estimate.low, "high": estimate.high}


def item_view(item: LabelledItem, query: LabelQuery) -> dict[str, Any]:
    """A JSON-ready labelled item: the judge's stored score and decision, and people's."""
    evaluator = query.evaluator
    return {
        "trace_id": item.trace_id,
        "span_id": item.span_id,
        "timestamp": item.timestamp_us,
        "judge_value": item.value,
        "judge_label": item.label or evaluator.class_name(item.judge_positive),
        "judge_positive": item.judge_positive,
        "uncalibrated_value": item.raw_value if item.recalibrated else None,
        "human_label": evaluator.class_name(item.human_positive),
        "human_positive": item.human_positive,
        "votes": {"positive": item.votes[0], "negative": item.votes[1]},
        "authors": list(item.authors),
    }


def agreement_report(
    driver: StoreDriver,
    project_id: str,
    query: LabelQuery,
    *,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """The agreement of ``query.evaluator`` with the labels ``query.label_name`` in the
    project (figures are None without labelled items); the disagreeing items newest first, at
    most MAX_DISAGREEMENTS of ``disagreements_total``."""
    labelled = labelled_items(driver, project_id, query)
    judge = np.array([item.judge_positive for item in labelled.items], dtype=bool)
    people = np.array([item.human_positive for item in labelled.items], dtype=bool)
    result = agreement(judge, people, samples=samples, seed=seed)
    counts = result.confusion
    disagreeing = [i for i in reversed(labelled.items) if i.judge_positive != i.human_positive]
    return {
        **query.as_dict(),
        "classes": {
            "negative": query.evaluator.class_name(False),
            "positive": query.evaluator.class_name(True),
        },
        "n": counts.n,
        "ties": labelled.ties,
        "truncated": labelled.truncated,
        "recalibrated_items": sum(item.recalibrated for item in labelled.items),
        "accuracy": _estimate(result.accuracy),
        "kappa": _estimate(result.kappa),
        "confidence": result.confidence,
        "bootstrap": {"samples": result.samples, "seed": result.seed},
        "confusion": {
            "judge_positive": {"human_positive": counts.tp, "human_negative": counts.fp},
            "judge_negative": {"human_positive": counts.fn, "human_negative": counts.tn},
        },
        "disagreements_total": len(disagreeing),
        "disagreements": [item_view(i, query) for i in disagreeing[:MAX_DISAGREEMENTS]],
    }
