"""What a reviewer reads of an item (the question, the retrieved passages and the answer, as
the judge reads them) and, only once they labelled it, the judge's verdict."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from haloscope.platform.db.models import AnnotationItem
from haloscope.platform.jobs.sampling import SCORE_SOURCE
from haloscope.platform.jobs.span_inputs import eval_input
from haloscope.platform.store import TraceStore
from haloscope.platform.store.annotation_queries import spans_of_traces
from haloscope.platform.store.scores import ScoreStore

# Sources of the judge's scores: the sampling job's, and those sent as ``judge`` by the API.
JUDGE_SOURCES = (SCORE_SOURCE, "judge")


@dataclass(frozen=True)
class ItemContent:
    """The texts of an item's span (the root span of a whole-trace item): its input, its
    output and the passages retrieved for it."""

    span_id: str
    span_name: str
    question: str
    answer: str
    passages: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "span_id": self.span_id,
            "span_name": self.span_name,
            "question": self.question,
            "answer": self.answer,
            "passages": list(self.passages),
        }


def content_of(spans: Sequence[dict[str, Any]], span_id: str) -> ItemContent | None:
    """The content of span ``span_id`` ('' for the trace's root) among a trace's spans (rows
    of ``ITEM_SPANS_SQL`` in start order); None when it is not among them."""
    if span_id:
        target = next((s for s in spans if s["span_id"] == span_id), None)
    else:
        ids = {s["span_id"] for s in spans}
        roots = [s for s in spans if s["parent_span_id"] not in ids]
        target = min(roots, key=lambda s: int(s["start_us"]), default=None)
    if target is None:
        return None
    documents = [s["documents"] for s in spans if s["kind"] == "retrieval" and s["documents"]]
    seen = eval_input(target, documents)
    return ItemContent(target["span_id"], target["name"], seen.input, seen.output, seen.contexts)


def item_contents(
    store: TraceStore, project_id: str, items: Sequence[AnnotationItem]
) -> dict[str, ItemContent]:
    """The content of each item whose span is still stored, by item id."""
    spans = spans_of_traces(store.driver, project_id, [item.trace_id for item in items])
    found = {}
    for item in items:
        content = content_of(spans.get(item.trace_id, []), item.span_id)
        if content is not None:
            found[item.id] = content
    return found


def judge_verdicts(
    store: TraceStore, project_id: str, item: AnnotationItem
) -> list[dict[str, Any]]:
    """The judge's scores of the item's span (any span of the trace for a whole-trace item):
    name, value, label, reason (or comment). Show them only to a reviewer who labelled the item."""
    rows = ScoreStore(store.driver).of_trace(project_id, item.trace_id)
    return [
        {
            "name": row["name"],
            "evaluator_version": row["evaluator_version"],
            "span_id": row["span_id"] or None,
            "value": float(row["value"]),
            "label": row["label"],
            "reason": row["reason"],
            "comment": row["comment"],
        }
        for row in rows
        if row["source"] in JUDGE_SOURCES and (not item.span_id or row["span_id"] == item.span_id)
    ]
