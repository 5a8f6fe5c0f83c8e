"""Annotation queues, scoped to the key's project: create one from a trace filter or a sampling
rule's judged spans, read its progress and items, hand a reviewer the next item, store their
label or skip, and turn the labelled items into a dataset version. A queue or item of another
project answers 404, like a missing one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from haloscope.platform.annotation import export, queues, reviews
from haloscope.platform.annotation.content import item_contents, judge_verdicts
from haloscope.platform.annotation.errors import (
    AnnotationConflict,
    AnnotationError,
    AnnotationNotFound,
)
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.job_dependencies import Context, Project, Sessions, StrictBody
from haloscope.platform.api.query_params import choices, one_choice, parse_timestamp
from haloscope.platform.auth.credentials import parse_key_pair
from haloscope.platform.db.models import AnnotationItem, AnnotationQueue
from haloscope.platform.store import TraceFilter
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.platform.store.dashboard_queries import ScoreThreshold
from haloscope.platform.store.filters import TRACE_STATUSES
from pydantic import Field
from sqlalchemy.orm import Session

router = APIRouter(prefix="/api/v1")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Reviewer = Annotated[str, Field(min_length=1, max_length=200)]
Comment = Annotated[str, Field(max_length=10_000)]
QueueLimit = Annotated[int, Query(ge=1, le=1000)]


class FilterSourceBody(StrictBody):
    """Whole traces matching the trace list's filters (see ``GET /api/v1/traces``)."""

    kind: Literal["filter"]
    start: str | None = Field(None, max_length=64)
    end: str | None = Field(None, max_length=64)
    kinds: list[str] = Field(default_factory=list, max_length=20)
    names: list[Name] = Field(default_factory=list, max_length=50)
    models: list[Name] = Field(default_factory=list, max_length=50)
    tags: list[Name] = Field(default_factory=list, max_length=50)
    user_id: str | None = Field(None, max_length=200)
    session_id: str | None = Field(None, max_length=200)
    release: str | None = Field(None, max_length=200)
    status: str | None = None
    search: str | None = Field(None, max_length=1000)
    score_name: str | None = Field(None, max_length=200)
    score_min: float | None = Field(None, allow_inf_nan=False)
    score_max: float | None = Field(None, allow_inf_nan=False)


class RuleSourceBody(StrictBody):
    """The spans a sampling rule (id or name) judged, in all its runs or in ``run_id``."""

    kind: Literal["sampling_rule"]
    rule: Name
    run_id: str | None = Field(None, max_length=64)


class QueueBody(StrictBody):
    """A new annotation queue."""

    name: Name
    description: str = Field("", max_length=1000)
    score_names: list[Name] = Field(min_length=1, max_length=queues.MAX_SCORE_NAMES)
    required_labels: int = Field(1, ge=1, le=queues.MAX_REQUIRED_LABELS)
    source: FilterSourceBody | RuleSourceBody = Field(discriminator="kind")
    max_items: int | None = Field(None, ge=1, le=queues.MAX_QUEUE_ITEMS)


class LabelBody(StrictBody):
    """A reviewer's values for an item: one per score config of the queue."""

    reviewer: Reviewer
    values: dict[Name, Any] = Field(max_length=queues.MAX_SCORE_NAMES)
    comment: Comment = ""


class SkipBody(StrictBody):
    """A reviewer passing on an item."""

    reviewer: Reviewer
    comment: Comment = ""


class DatasetBody(StrictBody):
    """Where the labelled items go: a dataset name, and how many labels an item needs."""

    dataset: Name
    min_labels: int | None = Field(None, ge=1, le=queues.MAX_REQUIRED_LABELS)


@contextmanager
def _answering() -> Iterator[None]:
    """Answer the annotation services' refusals: 400, 409 or 404 with their reason."""
    try:
        yield
    except AnnotationConflict as exc:
        raise ApiError(409, str(exc)) from exc
    except AnnotationError as exc:
        raise ApiError(400, str(exc)) from exc
    except AnnotationNotFound as exc:
        raise ApiError(404, str(exc)) from exc


def _queue(session: Session, project_id: str, id_or_name: str) -> AnnotationQueue:
    found = queues.find_queue(session, project_id, id_or_name)
    if found is None:
        raise ApiError(404, f"annotation queue {id_or_name!r} not found")
    return found


def _item(session: Session, queue: AnnotationQueue, item_id: str) -> AnnotationItem:
    found = queues.find_item(session, queue, item_id)
    if found is None:
        raise ApiError(404, f"item {item_id!r} of annotation queue {queue.name!r} not found")
    return found


def _source(body: FilterSourceBody | RuleSourceBody) -> queues.FilterSource | queues.RuleSource:
    if isinstance(body, RuleSourceBody):
        return queues.RuleSource(body.rule, body.run_id or None)
    try:
        filters = TraceFilter(
            start_us=parse_timestamp("source.start", body.start),
            end_us=parse_timestamp("source.end", body.end),
            kinds=choices("source.kinds", body.kinds, SPAN_KINDS),
            names=tuple(body.names),
            models=tuple(body.models),
            tags=tuple(body.tags),
            user_id=body.user_id or None,
            session_id=body.session_id or None,
            release=body.release or None,
            status=one_choice("source.status", body.status, TRACE_STATUSES),
            search=body.search or None,
        )
        threshold = None
        if body.score_name:
            threshold = ScoreThreshold(body.score_name, body.score_min, body.score_max)
        elif body.score_min is not None or body.score_max is not None:
            raise ApiError(400, "source.score_min and source.score_max need a score_name")
    except ValueError as exc:
        raise ApiError(400, f"source: {exc}") from exc
    return queues.FilterSource(filters, threshold)


@router.post("/annotation-queues", status_code=201)
def create_queue(
    body: QueueBody, request: Request, project_id: Project, ctx: Context, sessions: Sessions
) -> dict[str, Any]:
    """Create a queue and its items (400 when invalid, empty or over 10,000 items; 409 when
    the name is taken; 404 for an unknown rule or run)."""
    spec = queues.QueueSpec(
        name=body.name,
        score_names=tuple(body.score_names),
        source=_source(body.source),
        required_labels=body.required_labels,
        description=body.description,
        max_items=body.max_items,
    )
    public_key, _ = parse_key_pair(request.headers["authorization"])
    with sessions() as session, _answering():
        queue = queues.create_queue(session, ctx.store, project_id, spec, f"key:{public_key}")
        session.commit()
        return queues.queue_as_dict(queue, queues.queue_progress(session, queue))


@router.get("/annotation-queues")
def list_queues(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's queues by name, with their progress."""
    with sessions() as session:
        return {
            "data": [
                queues.queue_as_dict(queue, queues.queue_progress(session, queue))
                for queue in queues.list_queues(session, project_id)
            ]
        }


@router.get("/annotation-queues/{queue}")
def get_queue(queue: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One queue (by id or name) with its progress: items total and done, labels and skips
    per reviewer."""
    with sessions() as session:
        found = _queue(session, project_id, queue)
        return queues.queue_as_dict(found, queues.queue_progress(session, found))


@router.delete("/annotation-queues/{queue}", status_code=204)
def delete_queue(queue: str, project_id: Project, sessions: Sessions) -> Response:
    """Delete a queue, its items and reviews; the labels stay as scores."""
    with sessions() as session:
        queues.delete_queue(session, _queue(session, project_id, queue))
        session.commit()
    return Response(status_code=204)


@router.get("/annotation-queues/{queue}/items")
def list_items(
    queue: str,
    project_id: Project,
    sessions: Sessions,
    limit: QueueLimit = 100,
    offset: Annotated[int, Query(ge=0, le=queues.MAX_QUEUE_ITEMS)] = 0,
) -> dict[str, Any]:
    """A page of the queue's items in queue order, with who labelled or skipped each."""
    with sessions() as session:
        found = _queue(session, project_id, queue)
        items = queues.list_items(session, found, limit=limit, offset=offset)
        total = queues.queue_progress(session, found).items_total
    more = offset + len(items) < total
    return {"data": items, "total": total, "next_offset": offset + len(items) if more else None}


@router.get("/annotation-queues/{queue}/next")
def next_item(
    queue: str,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
    reviewer: Annotated[str, Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    """The reviewer's next item with its question, passages and answer (never the judge's
    verdict: it comes with the label), or ``"item": null`` when nothing is left for them."""
    with sessions() as session, _answering():
        found = _queue(session, project_id, queue)
        name = reviews.check_reviewer(reviewer)
        item = reviews.next_item(session, found, name)
        progress = queues.queue_progress(session, found).as_dict()
        if item is None:
            return {"item": None, "progress": progress}
        content = item_contents(ctx.store, project_id, [item]).get(item.id)
        view = {
            "id": item.id,
            "position": item.position,
            "trace_id": item.trace_id,
            "span_id": item.span_id or None,
            "content": None if content is None else content.as_dict(),
        }
        return {"item": view, "progress": progress}


@router.post("/annotation-queues/{queue}/items/{item_id}/label")
def label_item(
    queue: str,
    item_id: str,
    body: LabelBody,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
) -> dict[str, Any]:
    """Store the reviewer's values (one per score config of the queue) as annotation scores;
    sent again, they replace the reviewer's previous values. The answer reveals the judge's
    verdict on the item."""
    with sessions() as session, _answering():
        found = _queue(session, project_id, queue)
        item = _item(session, found, item_id)
        stored = reviews.label_item(
            session, ctx.store, found, item, body.reviewer, body.values, body.comment
        )
        session.commit()
        return {
            "item_id": item.id,
            "status": queues.LABELLED,
            "scores": [{"id": s.score_id, "name": s.name, "value": s.typed_value} for s in stored],
            "judge": judge_verdicts(ctx.store, project_id, item),
            "progress": queues.queue_progress(session, found).as_dict(),
        }


@router.post("/annotation-queues/{queue}/items/{item_id}/skip")
def skip_item(
    queue: str, item_id: str, body: SkipBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Record that the reviewer passed on the item (409 when they already labelled it)."""
    with sessions() as session, _answering():
        found = _queue(session, project_id, queue)
        item = _item(session, found, item_id)
        reviews.skip_item(session, item, body.reviewer, body.comment)
        session.commit()
        return {
            "item_id": item.id,
            "status": queues.SKIPPED,
            "progress": queues.queue_progress(session, found).as_dict(),
        }


@router.post("/annotation-queues/{queue}/dataset", status_code=201)
def create_dataset_version(
    queue: str,
    body: DatasetBody,
    response: Response,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
) -> dict[str, Any]:
    """A new version of ``dataset`` from the items labelled by ``min_labels`` reviewers
    (default: the queue's ``required_labels``); 200 with ``created: false`` when the latest
    version already holds exactly these items."""
    with sessions() as session:
        queue_id = _queue(session, project_id, queue).id
    with _answering():
        version = export.export_dataset(
            sessions, ctx.store, queue_id, body.dataset, body.min_labels
        )
    if not version["created"]:
        response.status_code = 200
    return version
