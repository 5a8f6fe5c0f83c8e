"""Annotation queues: created from a trace filter (whole traces) or from the spans a sampling
rule's runs judged, with the score configs each reviewer fills in; their items and progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from haloscope.platform.annotation.errors import (
    AnnotationConflict,
    AnnotationError,
    AnnotationNotFound,
)
from haloscope.platform.db.models import (
    AnnotationItem,
    AnnotationQueue,
    AnnotationReview,
    SamplingRun,
)
from haloscope.platform.db.project_rows import find_named, list_named
from haloscope.platform.jobs.rules import find_rule
from haloscope.platform.scores.configs import configs_by_name
from haloscope.platform.scores.submission import MAX_NAME_CHARS
from haloscope.platform.store import TraceFilter, TraceStore
from haloscope.platform.store.annotation_queries import judged_targets
from haloscope.platform.store.dashboard_queries import ScoreThreshold
from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

MAX_QUEUE_ITEMS = 10_000
MAX_SCORE_NAMES = 20
MAX_REQUIRED_LABELS = 20
MAX_DESCRIPTION_CHARS = 1000
LABELLED, SKIPPED = "labelled", "skipped"
_TRACE_PAGE = 1000


@dataclass(frozen=True)
class FilterSource:
    """Whole traces matching a trace-list filter (and, when given, having a score inside
    ``threshold``), newest first."""

    filters: TraceFilter
    threshold: ScoreThreshold | None = None

    def as_json(self) -> dict[str, Any]:
        """The stored form: ``{"kind": "filter", <TraceFilter fields>, "score": ...}``."""
        fields = {
            k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.filters).items()
        }
        score = None if self.threshold is None else asdict(self.threshold)
        return {"kind": "filter", **fields, "score": score}


@dataclass(frozen=True)
class RuleSource:
    """The spans a sampling rule (id or name) judged: in all its runs, or in ``run_id`` only;
    oldest first."""

    rule: str
    run_id: str | None = None


@dataclass(frozen=True)
class QueueSpec:
    """A queue to create. ``max_items`` takes the source's first items; without it a source
    with more than MAX_QUEUE_ITEMS items is refused."""

    name: str
    score_names: tuple[str, ...]
    source: FilterSource | RuleSource
    required_labels: int = 1
    description: str = ""
    max_items: int | None = None


@dataclass(frozen=True)
class QueueProgress:
    """Items in the queue, items done (labelled by ``required_labels`` reviewers), and each
    reviewer's labels and skips."""

    items_total: int
    items_done: int
    labels_by_reviewer: dict[str, int] = field(default_factory=dict)
    skips_by_reviewer: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return asdict(self)


def check_text(field: str, value: str) -> str:
    """``value`` unless it holds a NUL character (PostgreSQL cannot store one)."""
    if "\x00" in value:
        raise AnnotationError(f"{field} must not contain NUL characters")
    return value


def _check_spec(session: Session, project_id: str, spec: QueueSpec) -> None:
    if not 1 <= len(spec.name.strip()) <= MAX_NAME_CHARS or spec.name != spec.name.strip():
        raise AnnotationError(f"name must be 1-{MAX_NAME_CHARS} characters, without outer blanks")
    check_text("name", spec.name)
    check_text("description", spec.description)
    if len(spec.description) > MAX_DESCRIPTION_CHARS:
        raise AnnotationError(f"description is longer than {MAX_DESCRIPTION_CHARS} characters")
    if not 1 <= spec.required_labels <= MAX_REQUIRED_LABELS:
        raise AnnotationError(f"required_labels must be between 1 and {MAX_REQUIRED_LABELS}")
    if spec.max_items is not None and not 1 <= spec.max_items <= MAX_QUEUE_ITEMS:
        raise AnnotationError(f"max_items must be between 1 and {MAX_QUEUE_ITEMS}")
    names = spec.score_names
    if not 1 <= len(names) <= MAX_SCORE_NAMES or len(set(names)) != len(names):
        raise AnnotationError(f"score_names must list 1-{MAX_SCORE_NAMES} distinct score configs")
    for name in names:
        check_text("score_names", name)
    found = configs_by_name(session, project_id, names)
    missing = [name for name in names if name not in found]
    if missing:
        raise AnnotationError(
            f"no score config named {missing}: create it first (POST /api/v1/score-configs); "
            "a queue collects values of the project's score configs"
        )
    if find_queue(session, project_id, spec.name) is not None:
        raise AnnotationConflict(f"annotation queue {spec.name!r} already exists")


def _filter_targets(
    store: TraceStore, project_id: str, source: FilterSource, limit: int
) -> list[tuple[str, str]]:
    """Up to ``limit`` traces matching the filter, as (trace id, '') pairs."""
    found: list[tuple[str, str]] = []
    cursor = None
    while len(found) < limit:
        size = min(_TRACE_PAGE, limit - len(found))
        if source.threshold is None:
            page = store.list_traces(project_id, source.filters, limit=size, cursor=cursor)
        else:
            page = store.list_traces_by_score(
                project_id, source.filters, source.threshold, limit=size, cursor=cursor
            )
        found.extend((row["trace_id"], "") for row in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return found


def _rule_targets(
    session: Session, store: TraceStore, project_id: str, source: RuleSource, limit: int
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Up to ``limit`` spans judged by the rule's runs, and the stored source."""
    check_text("rule", source.rule)
    check_text("run_id", source.run_id or "")
    rule = find_rule(session, project_id, source.rule)
    if rule is None:
        raise AnnotationNotFound(f"sampling rule {source.rule!r} not found")
    runs = select(SamplingRun.id).where(SamplingRun.rule_id == rule.id)
    if source.run_id is not None:
        runs = runs.where(SamplingRun.id == source.run_id)
    run_ids = list(session.scalars(runs))
    if source.run_id is not None and not run_ids:
        raise AnnotationNotFound(f"sampling run {source.run_id!r} of rule {rule.name!r} not found")
    targets = judged_targets(store.driver, project_id, run_ids, limit)
    return targets, {"kind": "sampling_rule", "rule_id": rule.id, "run_id": source.run_id}


def create_queue(
    session: Session, store: TraceStore, project_id: str, spec: QueueSpec, created_by: str
) -> AnnotationQueue:
    """Validate ``spec``, collect its items from the trace store and add the queue (the caller
    commits). AnnotationError when invalid, empty or over MAX_QUEUE_ITEMS; AnnotationConflict
    when the name is taken; AnnotationNotFound for an unknown rule or run."""
    _check_spec(session, project_id, spec)
    limit = spec.max_items or MAX_QUEUE_ITEMS + 1
    if isinstance(spec.source, FilterSource):
        targets = _filter_targets(store, project_id, spec.source, limit)
        stored_source = spec.source.as_json()
    else:
        targets, stored_source = _rule_targets(session, store, project_id, spec.source, limit)
    if len(targets) > MAX_QUEUE_ITEMS:
        raise AnnotationError(
            f"the source has more than {MAX_QUEUE_ITEMS:,} items: narrow it (a shorter time "
            "range, more filters, one sampling run) or set max_items to take the first ones"
        )
    if not targets:
        raise AnnotationError("the source has no items: nothing matches it in the trace store")
    queue = AnnotationQueue(
        project_id=project_id,
        name=spec.name,
        description=spec.description,
        score_names=list(spec.score_names),
        required_labels=spec.required_labels,
        source=stored_source,
        created_by=created_by[:MAX_NAME_CHARS],
    )
    session.add(queue)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent create took the name
        session.rollback()
        raise AnnotationConflict(f"annotation queue {spec.name!r} already exists") from exc
    rows = [
        {"queue_id": queue.id, "position": position, "trace_id": trace_id, "span_id": span_id}
        for position, (trace_id, span_id) in enumerate(targets)
    ]
    session.execute(insert(AnnotationItem), rows)
    return queue


def list_queues(session: Session, project_id: str) -> list[AnnotationQueue]:
    """The project's queues by name."""
    return list_named(session, AnnotationQueue, project_id)


def find_queue(session: Session, project_id: str, id_or_name: str) -> AnnotationQueue | None:
    """The project's queue with this id or name, or None."""
    if "\x00" in id_or_name:
        return None
    return find_named(session, AnnotationQueue, project_id, id_or_name)


def delete_queue(session: Session, queue: AnnotationQueue) -> None:
    """Delete the queue with its items and reviews (the labels stay in the trace store as
    scores); the caller commits."""
    session.execute(delete(AnnotationQueue).where(AnnotationQueue.id == queue.id))


def find_item(session: Session, queue: AnnotationQueue, item_id: str) -> AnnotationItem | None:
    """The queue's item with this id, or None."""
    item = None if "\x00" in item_id else session.get(AnnotationItem, item_id)
    return item if item is not None and item.queue_id == queue.id else None


def done_item_ids(session: Session, queue: AnnotationQueue, min_labels: int) -> set[str]:
    """Ids of the queue's items labelled by at least ``min_labels`` reviewers."""
    query = (
        select(AnnotationReview.item_id)
        .where(AnnotationReview.queue_id == queue.id, AnnotationReview.status == LABELLED)
        .group_by(AnnotationReview.item_id)
        .having(func.count() >= min_labels)
    )
    return set(session.scalars(query))


def queue_progress(session: Session, queue: AnnotationQueue) -> QueueProgress:
    """How far the queue's reviewers got."""
    total = session.scalar(
        select(func.count()).select_from(AnnotationItem).where(AnnotationItem.queue_id == queue.id)
    )
    counts = session.execute(
        select(AnnotationReview.reviewer, AnnotationReview.status, func.count())
        .where(AnnotationReview.queue_id == queue.id)
        .group_by(AnnotationReview.reviewer, AnnotationReview.status)
        .order_by(AnnotationReview.reviewer)
    )
    labels: dict[str, int] = {}
    skips: dict[str, int] = {}
    for reviewer, status, count in counts:
        (labels if status == LABELLED else skips)[reviewer] = count
    done = len(done_item_ids(session, queue, queue.required_labels))
    return QueueProgress(total or 0, done, labels, skips)


def queue_as_dict(queue: AnnotationQueue, progress: QueueProgress | None = None) -> dict[str, Any]:
    """A JSON-ready view of a queue, with its progress when given."""
    view = {
        "id": queue.id,
        "name": queue.name,
        "description": queue.description,
        "score_names": list(queue.score_names),
        "required_labels": queue.required_labels,
        "source": queue.source,
        "created_by": queue.created_by,
        "created_at": queue.created_at.isoformat(),
    }
    if progress is not None:
        view["progress"] = progress.as_dict()
    return view


def list_items(
    session: Session, queue: AnnotationQueue, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """A page of the queue's items in queue order, each with who labelled or skipped it and
    whether it is done."""
    items = list(
        session.scalars(
            select(AnnotationItem)
            .where(AnnotationItem.queue_id == queue.id)
            .order_by(AnnotationItem.position)
            .offset(offset)
            .limit(limit)
        )
    )
    reviews = _reviews_of(session, [item.id for item in items])
    views = []
    for item in items:
        mine = reviews.get(item.id, [])
        labelled = [r.reviewer for r in mine if r.status == LABELLED]
        views.append(
            {
                "id": item.id,
                "position": item.position,
                "trace_id": item.trace_id,
                "span_id": item.span_id or None,
                "labelled_by": labelled,
                "skipped_by": [r.reviewer for r in mine if r.status == SKIPPED],
                "done": len(labelled) >= queue.required_labels,
            }
        )
    return views


def _reviews_of(session: Session, item_ids: Sequence[str]) -> dict[str, list[AnnotationReview]]:
    if not item_ids:
        return {}
    query = (
        select(AnnotationReview)
        .where(AnnotationReview.item_id.in_(item_ids))
        .order_by(AnnotationReview.created_at, AnnotationReview.reviewer)
    )
    found: dict[str, list[AnnotationReview]] = {}
    for review in session.scalars(query):
        found.setdefault(review.item_id, []).append(review)
    return found
