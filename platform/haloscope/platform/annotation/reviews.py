"""Reviewing a queue: the next item for a reviewer, and their label (scores with source
``annotation`` in the trace store) or skip of an item.

A label is one value per score config of the queue. Each value is a score whose idempotency key
is derived from (queue, item, reviewer, score name), so labelling an item again replaces the
reviewer's values and never counts twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from haloscope.platform.annotation.errors import AnnotationConflict, AnnotationError
from haloscope.platform.annotation.queues import LABELLED, SKIPPED, check_text
from haloscope.platform.db.models import (
    AnnotationItem,
    AnnotationQueue,
    AnnotationReview,
    utcnow,
)
from haloscope.platform.scores.configs import config_violation, configs_by_name
from haloscope.platform.scores.submission import (
    MAX_COMMENT_CHARS,
    MAX_NAME_CHARS,
    ScoreRejected,
    ScoreSubmission,
    content_hash,
    parse_submission,
)
from haloscope.platform.store import TraceStore
from haloscope.platform.store.scores import ScoreStore
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

ANNOTATION_SOURCE = "annotation"


def label_key_prefix(queue_id: str) -> str:
    """The start of the idempotency key of every label a queue writes."""
    return f"{ANNOTATION_SOURCE}:{queue_id}:"


def label_key(queue_id: str, item_id: str, reviewer: str, name: str) -> str:
    """The idempotency key of a reviewer's value of score ``name`` for an item."""
    return f"{label_key_prefix(queue_id)}{item_id}:{content_hash(reviewer, name)}"


def item_id_of_key(key: str) -> str:
    """The item id inside a key made by :func:`label_key`."""
    return key.split(":")[2]


def check_reviewer(reviewer: str | None) -> str:
    """The reviewer's name (an email on the dashboard), blanks stripped; AnnotationError when
    empty or too long."""
    name = (reviewer or "").strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise AnnotationError(f"reviewer is required: 1-{MAX_NAME_CHARS} characters")
    return check_text("reviewer", name)


def _check_comment(comment: str) -> str:
    if len(comment) > MAX_COMMENT_CHARS:
        raise AnnotationError(f"comment is longer than {MAX_COMMENT_CHARS} characters")
    return check_text("comment", comment)


def next_item(session: Session, queue: AnnotationQueue, reviewer: str) -> AnnotationItem | None:
    """The first item in queue order with fewer than ``required_labels`` labels that
    ``reviewer`` has neither labelled nor skipped; None when there is none."""
    labels = (
        select(func.count())
        .select_from(AnnotationReview)
        .where(AnnotationReview.item_id == AnnotationItem.id, AnnotationReview.status == LABELLED)
        .scalar_subquery()
    )
    seen = select(AnnotationReview.item_id).where(
        AnnotationReview.queue_id == queue.id, AnnotationReview.reviewer == reviewer
    )
    query = (
        select(AnnotationItem)
        .where(
            AnnotationItem.queue_id == queue.id,
            AnnotationItem.id.not_in(seen),
            labels < queue.required_labels,
        )
        .order_by(AnnotationItem.position)
        .limit(1)
    )
    return session.scalars(query).first()


def review_of(session: Session, item: AnnotationItem, reviewer: str) -> AnnotationReview | None:
    """What ``reviewer`` did with the item, or None."""
    return session.scalar(
        select(AnnotationReview).where(
            AnnotationReview.item_id == item.id, AnnotationReview.reviewer == reviewer
        )
    )


def _record(
    session: Session, item: AnnotationItem, reviewer: str, status: str, comment: str
) -> AnnotationReview:
    review = review_of(session, item, reviewer)
    if review is None:
        review = AnnotationReview(
            item_id=item.id, queue_id=item.queue_id, reviewer=reviewer, status=status
        )
        session.add(review)
    review.status, review.comment, review.created_at = status, comment, utcnow()
    try:
        session.flush()
    except IntegrityError as exc:  # the same reviewer submitted twice at once
        session.rollback()
        raise AnnotationConflict("this item was just reviewed by the same reviewer; retry") from exc
    return review


def label_submissions(
    session: Session,
    queue: AnnotationQueue,
    item: AnnotationItem,
    reviewer: str,
    values: Mapping[str, Any],
    comment: str,
) -> list[ScoreSubmission]:
    """One validated score per score config of the queue; AnnotationError naming the first
    missing, unknown or invalid value (checked against the project's score configs)."""
    unknown = sorted(set(values) - set(queue.score_names))
    if unknown:
        raise AnnotationError(f"{unknown} are not score configs of this queue: {queue.score_names}")
    missing = [name for name in queue.score_names if name not in values]
    if missing:
        raise AnnotationError(f"a label needs a value for every score config; missing {missing}")
    configs = configs_by_name(session, queue.project_id, queue.score_names)
    submissions = []
    for name in queue.score_names:
        raw = {
            "trace_id": item.trace_id,
            "span_id": item.span_id,
            "name": name,
            "value": values[name],
            "comment": comment,
            "source": ANNOTATION_SOURCE,
            "author": reviewer,
            "idempotency_key": label_key(queue.id, item.id, reviewer, name),
        }
        try:
            score = parse_submission(raw)
        except ScoreRejected as exc:
            raise AnnotationError(f"{name}: {exc}") from exc
        problem = None if name not in configs else config_violation(configs[name], score)
        if problem is not None:
            raise AnnotationError(problem)
        submissions.append(score)
    return submissions


def label_item(
    session: Session,
    store: TraceStore,
    queue: AnnotationQueue,
    item: AnnotationItem,
    reviewer: str,
    values: Mapping[str, Any],
    comment: str = "",
) -> list[ScoreSubmission]:
    """Store ``reviewer``'s values for the item as annotation scores at the item's span (or
    trace) and record the review (the caller commits). Labelling again replaces the values;
    AnnotationError when a value is refused, AnnotationConflict when the trace is gone."""
    reviewer = check_reviewer(reviewer)
    submissions = label_submissions(session, queue, item, reviewer, values, _check_comment(comment))
    scores = ScoreStore(store.driver)
    start = scores.target_starts(queue.project_id, [item.trace_id]).start_of(
        item.trace_id, item.span_id
    )
    if start is None:
        raise AnnotationConflict(
            f"the item's {'span' if item.span_id else 'trace'} is no longer stored "
            "(past retention?): skip it"
        )
    scores.insert([score.row(queue.project_id, start) for score in submissions])
    _record(session, item, reviewer, LABELLED, comment)
    return submissions


def skip_item(
    session: Session, item: AnnotationItem, reviewer: str, comment: str = ""
) -> AnnotationReview:
    """Record that ``reviewer`` skipped the item (the caller commits); AnnotationConflict when
    they already labelled it (label it again to change the values)."""
    reviewer = check_reviewer(reviewer)
    previous = review_of(session, item, reviewer)
    if previous is not None and previous.status == LABELLED:
        raise AnnotationConflict(
            "you already labelled this item; label it again to change your values"
        )
    return _record(session, item, reviewer, SKIPPED, _check_comment(comment))
