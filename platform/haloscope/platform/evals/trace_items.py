"""Dataset items from production traces: the root span's input and output, and the passages
its retrieval spans returned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from haloscope.platform.evals.datasets import DatasetItem


def _unwrap(value: Any) -> Any:
    """A captured call with a single named argument (``{"question": q}``) becomes ``q``."""
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def _passages(documents: Any) -> list[str]:
    if not isinstance(documents, list):
        return []
    texts = []
    for doc in documents:
        text = doc.get("content") if isinstance(doc, dict) else doc
        if isinstance(text, str) and text:
            texts.append(text)
    return texts


def item_from_trace(trace_id: str, spans: Sequence[dict[str, Any]]) -> DatasetItem:
    """An item whose expected output is what production answered (review it before gating).

    ``spans`` are the trace's stored spans (``TraceStore.get_trace``); the item id is the
    trace id and the metadata names it, so the item can be traced back.
    """
    if not spans:
        raise ValueError(f"trace {trace_id} has no spans")
    ids = {span["span_id"] for span in spans}
    roots = [s for s in spans if not s.get("parent_span_id") or s["parent_span_id"] not in ids]
    root = min(roots, key=lambda s: s["start_time"])
    context = [
        text
        for span in spans
        if span.get("kind") == "retrieval"
        for text in _passages(span.get("documents"))
    ]
    return DatasetItem(
        id=trace_id,
        input=_unwrap(root.get("input")),
        expected_output=_unwrap(root.get("output")),
        context=tuple(context),
        metadata={"source_trace_id": trace_id, "root_span": root.get("name", "")},
    )
