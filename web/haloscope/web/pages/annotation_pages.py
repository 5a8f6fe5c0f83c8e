"""Annotation queues on the dashboard: the list, the create form (from the trace list's filter
or a sampling rule's judged spans), a queue's progress and items, the review page and the
export of the labelled items to a dataset version.

The review page shows the next item's question, passages and answer with a control per score
config; the judge's verdict on an item is shown only after the reviewer labelled it (on the
next page, as a confirmation), never before. Owners and members review; viewers see progress,
and their POSTs are refused (403). Every POST checks the session's CSRF token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from haloscope.platform.annotation import export, queues, reviews
from haloscope.platform.annotation.content import item_contents, judge_verdicts
from haloscope.platform.annotation.errors import (
    AnnotationConflict,
    AnnotationError,
    AnnotationNotFound,
)
from haloscope.platform.db.models import AnnotationItem, AnnotationQueue, SamplingRule, SamplingRun
from haloscope.platform.jobs import rules
from haloscope.platform.scores.configs import configs_by_name, list_score_configs
from haloscope.web.context import Context, DashboardContext
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.pages.annotation_form import label_fields, submitted_values
from haloscope.web.security import check_csrf
from haloscope.web.timerange import parse_time_range
from haloscope.web.trace_params import FORM_FIELDS, parse_trace_query
from haloscope.web.viewer import ProjectScope, Scope
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

router = APIRouter(include_in_schema=False)

SECTION = "annotation"
ITEMS_PER_PAGE = 100
RECENT_RUNS = 20
_UNSAFE_DATASET_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


async def submitted_form(request: Request) -> FormData:
    """FastAPI dependency: the posted form, whatever its field names."""
    return await request.form()


Form = Annotated[FormData, Depends(submitted_form)]


def _text(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def _require_reviewer(scope: ProjectScope, form: FormData) -> None:
    check_csrf(scope.viewer.csrf_token, _text(form, "csrf_token"))
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot annotate or change annotation queues.")


def _queue(db: Session, scope: ProjectScope, queue_id: str) -> AnnotationQueue:
    queue = db.get(AnnotationQueue, queue_id)
    if queue is None or queue.project_id != scope.project.id:
        raise PageError(404, "This project has no annotation queue with that id.")
    return queue


def _item(db: Session, queue: AnnotationQueue, item_id: str) -> AnnotationItem:
    item = queues.find_item(db, queue, item_id)
    if item is None:
        raise PageError(404, "This queue has no item with that id.")
    return item


def _status(exc: Exception) -> int:
    if isinstance(exc, AnnotationNotFound):
        return 404
    return 409 if isinstance(exc, AnnotationConflict) else 400


def _queue_url(scope: ProjectScope, queue_id: str, suffix: str = "") -> str:
    return f"/projects/{scope.project.id}/annotation/{queue_id}{suffix}"


def _dataset_name(queue_name: str) -> str:
    """A valid dataset name made from a queue name."""
    slug = _UNSAFE_DATASET_CHARS.sub("-", queue_name).strip("-._")[:190]
    return f"{slug or 'queue'}-labels"


# --- The list and the create form ----------------------------------------------------------


@router.get("/projects/{project_id}/annotation", response_class=HTMLResponse)
def queue_list(request: Request, scope: Scope, ctx: Context) -> HTMLResponse:
    """The project's queues with their progress."""
    with ctx.sessionmaker() as db:
        rows = [(q, queues.queue_progress(db, q)) for q in queues.list_queues(db, scope.project.id)]
    return render_page(request, "annotation_queues.html", scope, SECTION, queues=rows)


def _trace_filter_query(raw: str) -> str:
    """The trace list's filter form fields of a query string (the cursor dropped)."""
    pairs = [(k, v) for k, v in parse_qsl(raw) if k in FORM_FIELDS and k != "sort" and v.strip()]
    return urlencode(pairs)


def _filter_source(filter_query: str) -> tuple[queues.FilterSource, dict[str, str]]:
    """The filter source of a trace-list query string, and its fields to show."""
    params = dict(parse_qsl(filter_query))
    query = parse_trace_query(params, parse_time_range(params.get("range")))
    return queues.FilterSource(query.filters, query.threshold), query.form


def _create_form(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    filter_query: str,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    _, shown = _filter_source(filter_query)
    with ctx.sessionmaker() as db:
        configs = list_score_configs(db, scope.project.id)
        rule_list = rules.list_rules(db, scope.project.id)
        runs = db.execute(
            select(SamplingRun, SamplingRule.name)
            .join(SamplingRule, SamplingRule.id == SamplingRun.rule_id)
            .where(SamplingRun.project_id == scope.project.id)
            .order_by(SamplingRun.started_at.desc())
            .limit(RECENT_RUNS)
        ).all()
    return render_page(
        request,
        "annotation_new.html",
        scope,
        SECTION,
        status_code=status_code,
        filter_query=filter_query,
        filter_fields=shown,
        configs=configs,
        rules=rule_list,
        runs=runs,
        values=values,
        error=error,
        max_items=queues.MAX_QUEUE_ITEMS,
        max_labels=queues.MAX_REQUIRED_LABELS,
    )


@router.get("/projects/{project_id}/annotation/new", response_class=HTMLResponse)
def new_queue(request: Request, scope: Scope, ctx: Context) -> HTMLResponse:
    """The create form; the trace list's filter (its query string) is carried as the source
    "traces matching the filter"."""
    if not scope.project.can_edit:
        raise PageError(403, "Viewers cannot create annotation queues; ask a project owner.")
    filter_query = _trace_filter_query(request.url.query)
    defaults = {"required_labels": "1", "source": "filter", "score_names": []}
    return _create_form(request, scope, ctx, filter_query, defaults)


def _spec(form: FormData, filter_query: str) -> queues.QueueSpec:
    source_choice = _text(form, "source")
    source: queues.FilterSource | queues.RuleSource
    if source_choice.startswith("rule:"):
        source = queues.RuleSource(source_choice.removeprefix("rule:"))
    elif source_choice.startswith("run:"):
        rule_id, _, run_id = source_choice.removeprefix("run:").partition(":")
        source = queues.RuleSource(rule_id, run_id or None)
    elif source_choice == "filter":
        source, _ = _filter_source(filter_query)
    else:
        raise AnnotationError("choose where the items come from")
    numbers = {}
    for key in ("required_labels", "max_items"):
        raw = _text(form, key).strip()
        if raw and not raw.isdigit():
            raise AnnotationError(f"{key.replace('_', ' ')} must be a whole number")
        numbers[key] = int(raw) if raw else None
    return queues.QueueSpec(
        name=_text(form, "name").strip(),
        score_names=tuple(v for v in form.getlist("score_names") if isinstance(v, str)),
        source=source,
        required_labels=numbers["required_labels"] or 1,
        description=_text(form, "description").strip(),
        max_items=numbers["max_items"],
    )


@router.post("/projects/{project_id}/annotation", response_class=HTMLResponse)
def create_queue(request: Request, scope: Scope, ctx: Context, form: Form) -> Response:
    """Create the queue; a refused form comes back as typed, with the reason."""
    _require_reviewer(scope, form)
    filter_query = _trace_filter_query(_text(form, "filter"))
    try:
        spec = _spec(form, filter_query)
        with ctx.sessionmaker() as db:
            queue = queues.create_queue(db, ctx.store, scope.project.id, spec, scope.viewer.email)
            db.commit()
            queue_id = queue.id
    except (AnnotationError, AnnotationNotFound) as exc:
        values = {k: _text(form, k) for k in ("name", "description", "required_labels")}
        values |= {"source": _text(form, "source"), "max_items": _text(form, "max_items")}
        values["score_names"] = form.getlist("score_names")
        return _create_form(
            request, scope, ctx, filter_query, values, str(exc), status_code=_status(exc)
        )
    return RedirectResponse(_queue_url(scope, queue_id), status_code=303)


# --- One queue ------------------------------------------------------------------------------


def _queue_page(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    queue_id: str,
    offset: int = 0,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with ctx.sessionmaker() as db:
        queue = _queue(db, scope, queue_id)
        progress = queues.queue_progress(db, queue)
        items = queues.list_items(db, queue, limit=ITEMS_PER_PAGE, offset=offset)
    return render_page(
        request,
        "annotation_queue.html",
        scope,
        SECTION,
        status_code=status_code,
        queue=queue,
        progress=progress,
        items=items,
        offset=offset,
        page_size=ITEMS_PER_PAGE,
        dataset_name=_dataset_name(queue.name),
        error=error,
    )


@router.get("/projects/{project_id}/annotation/{queue_id}", response_class=HTMLResponse)
def queue_page(request: Request, scope: Scope, ctx: Context, queue_id: str) -> HTMLResponse:
    """A queue's progress (items done, labels and skips per reviewer) and its items."""
    raw = request.query_params.get("offset", "0")
    offset = int(raw) if raw.isdigit() and int(raw) <= queues.MAX_QUEUE_ITEMS else 0
    return _queue_page(request, scope, ctx, queue_id, offset)


@router.post("/projects/{project_id}/annotation/{queue_id}/dataset", response_class=HTMLResponse)
def create_dataset(
    request: Request, scope: Scope, ctx: Context, queue_id: str, form: Form
) -> Response:
    """Add the queue's labelled items as the next version of a dataset."""
    _require_reviewer(scope, form)
    with ctx.sessionmaker() as db:
        queue = _queue(db, scope, queue_id)
    raw = _text(form, "min_labels").strip()
    try:
        if raw and not raw.isdigit():
            raise AnnotationError("minimum labels must be a whole number")
        export.export_dataset(
            ctx.sessionmaker,
            ctx.store,
            queue.id,
            _text(form, "dataset").strip(),
            int(raw) if raw else None,
        )
    except (AnnotationError, AnnotationNotFound) as exc:
        return _queue_page(request, scope, ctx, queue.id, error=str(exc), status_code=_status(exc))
    return RedirectResponse(f"/projects/{scope.project.id}/datasets", status_code=303)


@router.post("/projects/{project_id}/annotation/{queue_id}/delete")
def delete_queue(scope: Scope, ctx: Context, queue_id: str, form: Form) -> Response:
    """Delete the queue with its items and reviews; the labels stay as scores."""
    _require_reviewer(scope, form)
    with ctx.sessionmaker() as db:
        queues.delete_queue(db, _queue(db, scope, queue_id))
        db.commit()
    return RedirectResponse(f"/projects/{scope.project.id}/annotation", status_code=303)


# --- Reviewing ------------------------------------------------------------------------------


def _revealed(
    db: Session, ctx: DashboardContext, scope: ProjectScope, queue: AnnotationQueue, item_id: str
) -> dict[str, Any] | None:
    """The item the reviewer just handled: skipped, or labelled with the judge's verdict."""
    item = queues.find_item(db, queue, item_id) if item_id else None
    review = None if item is None else reviews.review_of(db, item, scope.viewer.email)
    if item is None or review is None:
        return None
    labelled = review.status == queues.LABELLED
    verdicts = judge_verdicts(ctx.store, scope.project.id, item) if labelled else []
    return {"item": item, "labelled": labelled, "verdicts": verdicts}


def _review_page(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    queue_id: str,
    *,
    after: str = "",
    item_id: str | None = None,
    form: FormData | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The review page of the reviewer's next item (or of ``item_id``, shown again with the
    refused ``form`` and its ``error``)."""
    reviewer = scope.viewer.email
    with ctx.sessionmaker() as db:
        queue = _queue(db, scope, queue_id)
        progress = queues.queue_progress(db, queue)
        previous = _revealed(db, ctx, scope, queue, after)
        item = None
        if scope.project.can_edit:
            item = _item(db, queue, item_id) if item_id else reviews.next_item(db, queue, reviewer)
        content = item_contents(ctx.store, scope.project.id, [item]).get(item.id) if item else None
        configs = configs_by_name(db, scope.project.id, queue.score_names)
    fields = label_fields(queue.score_names, configs)
    typed = {} if form is None else {f.input_name: _text(form, f.input_name) for f in fields}
    return render_page(
        request,
        "annotation_review.html",
        scope,
        SECTION,
        status_code=status_code,
        queue=queue,
        progress=progress,
        previous=previous,
        item=item,
        content=content,
        fields=fields,
        typed=typed,
        comment=_text(form, "comment") if form is not None else "",
        error=error,
    )


@router.get("/projects/{project_id}/annotation/{queue_id}/review", response_class=HTMLResponse)
def review(request: Request, scope: Scope, ctx: Context, queue_id: str) -> HTMLResponse:
    """The reviewer's next item; after a label, the judge's verdict on the labelled item."""
    after = request.query_params.get("after", "")
    return _review_page(request, scope, ctx, queue_id, after=after)


def _after_review(scope: ProjectScope, queue_id: str, item_id: str) -> RedirectResponse:
    return RedirectResponse(
        _queue_url(scope, queue_id, f"/review?{urlencode({'after': item_id})}"), status_code=303
    )


def _act_on_item(
    request: Request,
    scope: ProjectScope,
    ctx: DashboardContext,
    ids: tuple[str, str],
    form: FormData,
    act: Callable[[Session, AnnotationQueue, AnnotationItem], object],
    *,
    refill: bool,
) -> Response:
    """Run ``act`` on the item ``ids`` (queue id, item id) for the signed-in reviewer, then go
    on to the next item; a refusal shows the review page again with the reason (and, when
    ``refill``, the same item with the values as typed)."""
    _require_reviewer(scope, form)
    queue_id, item_id = ids
    with ctx.sessionmaker() as db:
        queue = _queue(db, scope, queue_id)
        item = _item(db, queue, item_id)
        try:
            act(db, queue, item)
            db.commit()
        except AnnotationError as exc:
            db.rollback()
            refused = exc
        else:
            return _after_review(scope, queue.id, item.id)
    again: dict[str, Any] = {"item_id": item_id, "form": form} if refill else {}
    error, status_code = str(refused), _status(refused)
    return _review_page(
        request, scope, ctx, queue_id, error=error, status_code=status_code, **again
    )


@router.post(
    "/projects/{project_id}/annotation/{queue_id}/items/{item_id}/label",
    response_class=HTMLResponse,
)
def label(
    request: Request, scope: Scope, ctx: Context, queue_id: str, item_id: str, form: Form
) -> Response:
    """Store the reviewer's label; a refused one comes back with the values as typed."""

    def store_label(db: Session, queue: AnnotationQueue, item: AnnotationItem) -> object:
        configs = configs_by_name(db, queue.project_id, queue.score_names)
        values = submitted_values(label_fields(queue.score_names, configs), form)
        comment = _text(form, "comment")
        return reviews.label_item(db, ctx.store, queue, item, scope.viewer.email, values, comment)

    return _act_on_item(request, scope, ctx, (queue_id, item_id), form, store_label, refill=True)


@router.post(
    "/projects/{project_id}/annotation/{queue_id}/items/{item_id}/skip",
    response_class=HTMLResponse,
)
def skip(
    request: Request, scope: Scope, ctx: Context, queue_id: str, item_id: str, form: Form
) -> Response:
    """Pass on the item; it goes to the other reviewers."""

    def store_skip(db: Session, _: AnnotationQueue, item: AnnotationItem) -> object:
        return reviews.skip_item(db, item, scope.viewer.email, _text(form, "comment"))

    return _act_on_item(request, scope, ctx, (queue_id, item_id), form, store_skip, refill=False)
