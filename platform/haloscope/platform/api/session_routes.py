"""Sessions and users: per session and per user totals over a time range, one session's traces
read as a conversation, one user's summary; all scoped to the project of the request's key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from haloscope.platform.api.auth import authenticated_project
from haloscope.platform.api.context import ApiContext, api_context
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.path_text import TEXT
from haloscope.platform.api.query_params import parse_timestamp, time_window
from haloscope.platform.store.session_queries import DEFAULT_SORT
from haloscope.platform.store.sessions import (
    MAX_GROUP_PAGE,
    MAX_SESSION_TRACES,
    GroupPage,
    SessionStore,
)

router = APIRouter(prefix="/api/v1")

Project = Annotated[str, Depends(authenticated_project)]
Context = Annotated[ApiContext, Depends(api_context)]
Limit = Annotated[int, Query(ge=1, le=MAX_GROUP_PAGE)]
# Offsets beyond this are refused: deep pages of an aggregate are better reached by sorting.
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _sessions(ctx: ApiContext) -> SessionStore:
    return SessionStore(ctx.store.driver)


@contextmanager
def _refused_as_400() -> Iterator[None]:
    """A ValueError of the store (a bad sort, page or range) answers 400 with its reason."""
    try:
        yield
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


def _page(start_us: int, end_us: int, page: GroupPage) -> dict[str, Any]:
    return {"start": start_us, "end": end_us, "data": page.items, "next_offset": page.next_offset}


@router.get("/sessions")
def list_sessions(
    project_id: Project,
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
    user_id: str | None = None,
    sort: str = DEFAULT_SORT,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The sessions of the traces starting in ``[start, end)`` (default: the last 7 days),
    ``user_id``'s only when given, with their totals; ``sort`` is ``<field>_desc|asc``."""
    start_us, end_us = time_window(start, end)
    user = user_id or None
    with _refused_as_400():
        page = _sessions(ctx).list_sessions(
            project_id, start_us, end_us, user_id=user, sort=sort, limit=limit, offset=offset
        )
    return _page(start_us, end_us, page)


@router.get(f"/sessions/{{session_id:{TEXT}}}")
def get_session(
    session_id: str,
    project_id: Project,
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_SESSION_TRACES)] = 100,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The session's traces in start order (a page), each with its input and output, and the
    totals and score summaries of all its traces; all time unless ``start``/``end`` bound the
    traces' starts. 404 when the project has no trace of that session."""
    start_us, end_us = parse_timestamp("start", start), parse_timestamp("end", end)
    with _refused_as_400():
        detail = _sessions(ctx).get_session(
            project_id, session_id, start_us=start_us, end_us=end_us, limit=limit, offset=offset
        )
    if detail is None:
        raise ApiError(404, f"session {session_id!r} not found")
    return {
        "session_id": detail.session_id,
        "totals": detail.totals,
        "scores": detail.scores,
        "traces": detail.turns,
        "next_offset": detail.next_offset,
    }


@router.get("/users")
def list_users(
    project_id: Project,
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
    sort: str = DEFAULT_SORT,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """The users of the traces starting in ``[start, end)`` (default: the last 7 days) with
    their totals; ``sort`` is ``<field>_desc|asc``."""
    start_us, end_us = time_window(start, end)
    with _refused_as_400():
        page = _sessions(ctx).list_users(
            project_id, start_us, end_us, sort=sort, limit=limit, offset=offset
        )
    return _page(start_us, end_us, page)


@router.get(f"/users/{{user_id:{TEXT}}}")
def get_user(
    user_id: str,
    project_id: Project,
    ctx: Context,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """One user's totals over ``[start, end)`` (default: the last 7 days); 404 when the
    project has no trace of that user starting in it."""
    start_us, end_us = time_window(start, end)
    row = _sessions(ctx).get_user(project_id, user_id, start_us, end_us)
    if row is None:
        raise ApiError(404, f"user {user_id!r} has no traces in this range")
    return {"start": start_us, "end": end_us, **row}
