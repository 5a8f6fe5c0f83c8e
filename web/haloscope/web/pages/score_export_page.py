"""The score download of the dashboard: the project's scores (and annotations) as CSV or JSONL,
streamed by the same code as ``GET /api/v1/scores/export``, for a signed-in project member."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from haloscope.platform.api.score_export import export_format, export_response
from haloscope.platform.scores.submission import SCORE_SOURCES
from haloscope.platform.store.score_queries import ScoreFilter
from haloscope.platform.store.scores import ScoreStore
from haloscope.web.context import Context
from haloscope.web.errors import PageError
from haloscope.web.timerange import parse_time_range
from haloscope.web.viewer import Scope

router = APIRouter(include_in_schema=False)
# Query values arrive as text and are checked here, so a bad one gets an HTML error page.
Texts = Annotated[list[str], Query()]


@router.get("/projects/{project_id}/scores/export")
def export_scores(
    scope: Scope,
    ctx: Context,
    format: str | None = None,  # noqa: A002 - the API's parameter name
    range: str | None = None,  # noqa: A002 - the time-range picker's parameter name
    name: Texts = (),
    source: Texts = (),
    min_value: str | None = None,
    max_value: str | None = None,
    deleted: str | None = None,
) -> StreamingResponse:
    """``format`` csv (default) or jsonl; ``range`` a time-range preset (scores whose target
    started in it; default all time); ``name`` and ``source`` (repeatable), ``min_value`` /
    ``max_value`` and ``deleted=true`` (the tombstones) as in the API."""
    unknown = sorted(set(source) - set(SCORE_SOURCES))
    window = parse_time_range(range) if range else None
    try:
        if unknown:
            raise ValueError(f"unknown score source(s) {unknown}; use {list(SCORE_SOURCES)}")
        fmt = export_format(format)
        flt = ScoreFilter(
            names=tuple(n for n in name if n),
            sources=tuple(source),
            start_us=window.start_us if window else None,
            end_us=window.end_us if window else None,
            min_value=_number("min_value", min_value),
            max_value=_number("max_value", max_value),
            deleted=(deleted or "").lower() in ("1", "true"),
        )
    except ValueError as exc:
        raise PageError(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    return export_response(ScoreStore(ctx.store.driver), scope.project.id, flt, fmt)


def _number(key: str, raw: str | None) -> float | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{key.replace('_', ' ')} must be a number, not {raw!r}") from None
