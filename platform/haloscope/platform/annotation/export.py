"""A queue's labelled items as a dataset version: the golden set of ``haloscope eval run``.

Each item is the question, the answer and the retrieved passages the reviewers read; its
metadata holds every reviewer's values and comment and, per score, the consensus: the most
frequent value (null on a tie) of a boolean or categorical score, the mean of a numeric one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import fmean
from typing import Any

from haloscope.platform.annotation.content import ItemContent, item_contents
from haloscope.platform.annotation.errors import AnnotationConflict, AnnotationError
from haloscope.platform.annotation.queues import MAX_REQUIRED_LABELS, done_item_ids
from haloscope.platform.annotation.reviews import item_id_of_key, label_key_prefix
from haloscope.platform.db.models import AnnotationItem, AnnotationQueue
from haloscope.platform.evals import records
from haloscope.platform.evals.datasets import DatasetItem, check_dataset_name
from haloscope.platform.evals.errors import EvalUsageError
from haloscope.platform.evals.jsonutil import content_hash
from haloscope.platform.scores.submission import typed_value
from haloscope.platform.store import TraceStore
from haloscope.platform.store.annotation_queries import labels_with_prefix
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker


def consensus(value_type: str, values: Sequence[Any]) -> Any:
    """The agreed value of one score: the mean of numeric values, else the most frequent
    value (None on a tie or without values)."""
    if not values:
        return None
    if value_type == "numeric":
        return fmean(values)
    ranked = Counter(values).most_common(2)
    return None if len(ranked) > 1 and ranked[0][1] == ranked[1][1] else ranked[0][0]


def _reviews_by_item(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Label score rows grouped as item id -> reviewer -> {values, comment, types}."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_reviewer = found.setdefault(item_id_of_key(row["idempotency_key"]), {})
        review = by_reviewer.setdefault(
            row["author"], {"values": {}, "comment": row["comment"], "types": {}}
        )
        value = typed_value(row["value_type"], float(row["value"]), row["string_value"])
        review["values"][row["name"]] = value
        review["types"][row["name"]] = row["value_type"]
    return found


def _dataset_item(
    queue: AnnotationQueue,
    item: AnnotationItem,
    reviews: dict[str, dict[str, Any]],
    content: ItemContent,
) -> DatasetItem:
    labels = {}
    for name in queue.score_names:
        given = [r["values"][name] for r in reviews.values() if name in r["values"]]
        kinds = {r["types"][name] for r in reviews.values() if name in r["types"]}
        labels[name] = consensus(kinds.pop() if len(kinds) == 1 else "categorical", given)
    return DatasetItem(
        id=f"{item.trace_id}:{item.span_id}" if item.span_id else item.trace_id,
        input=content.question,
        expected_output=content.answer,
        context=content.passages,
        metadata={
            "source_trace_id": item.trace_id,
            "source_span_id": item.span_id or None,
            "annotation_queue": queue.name,
            "labels": labels,
            "reviews": [
                {"reviewer": reviewer, "values": r["values"], "comment": r["comment"]}
                for reviewer, r in sorted(reviews.items())
            ],
        },
    )


def labelled_items(
    session: Session, store: TraceStore, queue: AnnotationQueue, min_labels: int | None = None
) -> tuple[list[DatasetItem], int]:
    """The dataset items of the queue's items labelled by at least ``min_labels`` reviewers
    (default: the queue's ``required_labels``), in queue order, and how many such items were
    left out because their trace is no longer stored."""
    needed = queue.required_labels if min_labels is None else min_labels
    if not 1 <= needed <= MAX_REQUIRED_LABELS:
        raise AnnotationError(f"min_labels must be between 1 and {MAX_REQUIRED_LABELS}")
    done = done_item_ids(session, queue, needed)
    if not done:
        raise AnnotationConflict(f"no item of the queue has {needed} label(s) yet")
    items = list(
        session.scalars(
            select(AnnotationItem)
            .where(AnnotationItem.id.in_(done))
            .order_by(AnnotationItem.position)
        )
    )
    contents = item_contents(store, queue.project_id, items)
    rows = labels_with_prefix(store.driver, queue.project_id, label_key_prefix(queue.id))
    reviews = _reviews_by_item(rows)
    dataset = [
        _dataset_item(queue, item, reviews.get(item.id, {}), contents[item.id])
        for item in items
        if item.id in contents
    ]
    return dataset, len(items) - len(dataset)


def export_dataset(
    sessions: sessionmaker[Session],
    store: TraceStore,
    queue_id: str,
    dataset: str,
    min_labels: int | None = None,
) -> dict[str, Any]:
    """Add the queue's labelled items as the next version of ``dataset`` (created if new) and
    return the version (``created`` False when the latest version already holds exactly these
    items, so a repeated export adds nothing) with ``left_out``, the labelled items whose trace
    is gone."""
    try:
        check_dataset_name(dataset)
    except EvalUsageError as exc:
        raise AnnotationError(str(exc)) from exc
    with sessions() as session:
        queue = session.get(AnnotationQueue, queue_id)
        if queue is None:
            raise AnnotationError(f"annotation queue {queue_id!r} no longer exists")
        items, left_out = labelled_items(session, store, queue, min_labels)
        project_id, source = queue.project_id, f"annotation-queue:{queue.name}"
        if not items:
            raise AnnotationConflict("every labelled item's trace is gone from the trace store")
        try:
            latest = records.get_dataset_version(session, project_id, dataset, None)
        except records.NotFoundError:
            latest = None
    if latest is not None and latest["content_hash"] == content_hash(
        [item.as_dict() for item in items]
    ):
        latest.pop("items")
        return {**latest, "created": False, "left_out": left_out}
    try:
        version = records.add_dataset_version(sessions, project_id, dataset, items, source)
    except records.ConflictError as exc:
        raise AnnotationConflict(str(exc)) from exc
    return {**version, "created": True, "left_out": left_out}
