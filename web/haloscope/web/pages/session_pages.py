"""Sessions and users: the sessions of a time range, one session read as a conversation, and
the users of a time range; sortable tables linking to the filtered trace list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from haloscope.platform.api.path_text import TEXT
from haloscope.platform.store.session_queries import DEFAULT_SORT
from haloscope.platform.store.sessions import GroupPage, SessionStore
from haloscope.web.context import Context
from haloscope.web.conversation import SortableTable, page_offset, turn_text
from haloscope.web.errors import PageError
from haloscope.web.layout import render_page
from haloscope.web.timerange import PRESETS, parse_time_range
from haloscope.web.viewer import ProjectScope, Scope

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
SESSION_PAGE_SIZE = 100
# Session ids are the application's own text: slashes and line breaks included.
SESSION_PATH = f"/projects/{{project_id}}/sessions/{{session_id:{TEXT}}}"


def _sessions(ctx: Context) -> SessionStore:
    return SessionStore(ctx.store.driver)


def _previous(offset: int, size: int) -> int | None:
    return max(offset - size, 0) if offset else None


def _group_list(
    request: Request,
    scope: ProjectScope,
    template: str,
    table: SortableTable,
    read: Callable[[], GroupPage],
    **context: Any,
) -> HTMLResponse:
    """A page of a sessions or users table (``read`` gets it; a bad sort is a 400) with its
    sort and page links; the section is the template's name."""
    try:
        page = read()
    except ValueError as exc:
        raise PageError(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    return render_page(
        request,
        template,
        scope,
        template.removesuffix(".html"),
        presets=PRESETS,
        rows=page.items,
        table=table,
        next_link=table.page_link(page.next_offset),
        previous_link=table.page_link(_previous(table.offset, PAGE_SIZE)),
        **context,
    )


@router.get("/projects/{project_id}/sessions", response_class=HTMLResponse)
def session_list(
    scope: Scope,
    ctx: Context,
    request: Request,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
    user: str | None = None,
    sort: str | None = None,
    offset: str | None = None,
) -> HTMLResponse:
    """The sessions of the traces starting in the range (one user's when ``user`` is given),
    newest activity first unless sorted otherwise."""
    window = parse_time_range(range)
    user_id = (user or "").strip() or None
    keep = {"range": window.key, "user": user_id or ""}
    table = SortableTable(sort or DEFAULT_SORT, keep, page_offset(offset))
    return _group_list(
        request,
        scope,
        "sessions.html",
        table,
        lambda: _sessions(ctx).list_sessions(
            scope.project.id,
            window.start_us,
            window.end_us,
            user_id=user_id,
            sort=table.sort,
            limit=PAGE_SIZE,
            offset=table.offset,
        ),
        window=window,
        user_id=user_id,
    )


@router.get(SESSION_PATH, response_class=HTMLResponse)
def session_detail(
    scope: Scope,
    ctx: Context,
    request: Request,
    session_id: str,
    offset: str | None = None,
) -> HTMLResponse:
    """One session as a conversation: each trace's question and answer in time order, with
    the session's totals and scores, each turn linking to its trace."""
    start = page_offset(offset)
    detail = _sessions(ctx).get_session(
        scope.project.id, session_id, limit=SESSION_PAGE_SIZE, offset=start
    )
    if detail is None:
        raise PageError(404, "This project has no trace in that session.")
    turns = [
        {
            **turn,
            "question": turn_text(turn["input"], "user"),
            "answer": turn_text(turn["output"], "assistant"),
        }
        for turn in detail.turns
    ]
    table = SortableTable("", {}, start)
    return render_page(
        request,
        "session.html",
        scope,
        "sessions",
        session_id=session_id,
        totals=detail.totals,
        scores=detail.scores,
        turns=turns,
        offset=start,
        next_link=table.page_link(detail.next_offset),
        previous_link=table.page_link(_previous(start, SESSION_PAGE_SIZE)),
    )


@router.get("/projects/{project_id}/users", response_class=HTMLResponse)
def user_list(
    scope: Scope,
    ctx: Context,
    request: Request,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
    sort: str | None = None,
    offset: str | None = None,
) -> HTMLResponse:
    """The users of the traces starting in the range with their totals, sortable by each
    column; each links to their traces and their sessions."""
    window = parse_time_range(range)
    table = SortableTable(sort or DEFAULT_SORT, {"range": window.key}, page_offset(offset))
    return _group_list(
        request,
        scope,
        "users.html",
        table,
        lambda: _sessions(ctx).list_users(
            scope.project.id,
            window.start_us,
            window.end_us,
            sort=table.sort,
            limit=PAGE_SIZE,
            offset=table.offset,
        ),
        window=window,
    )


@router.get("/projects/{project_id}/releases", response_class=HTMLResponse)
def releases(
    scope: Scope,
    ctx: Context,
    request: Request,
    range: str | None = None,  # noqa: A002 - the picker's query parameter
) -> HTMLResponse:
    """Span metrics of the range per release and per prompt name and version, computed from
    the spans (the overview's rollups hold days and models only)."""
    window = parse_time_range(range)
    project_id = scope.project.id
    by_release = ctx.store.metrics(project_id, window.start_us, window.end_us, ["release"])
    by_prompt = ctx.store.metrics(
        project_id, window.start_us, window.end_us, ["prompt_name", "prompt_version"]
    )
    return render_page(
        request,
        "releases.html",
        scope,
        "overview",
        window=window,
        presets=PRESETS,
        by_release=by_release,
        by_prompt=by_prompt,
    )
