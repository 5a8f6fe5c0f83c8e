"""Reading the trace list's filter form (query parameters) into store filters."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from haloscope.platform.store import TraceFilter
from haloscope.platform.store.base import SPAN_KINDS
from haloscope.platform.store.dashboard_queries import ScoreThreshold
from haloscope.platform.store.filters import bound, duration_bound, metadata_conditions
from haloscope.platform.store.pagination import SORTS
from haloscope.web.errors import PageError
from haloscope.web.timerange import TimeRange

PAGE_SIZE = 50
FORM_FIELDS = (
    "range",
    "q",
    "kind",
    "name",
    "model",
    "status",
    "tags",
    "user",
    "session",
    "release",
    "score",
    "score_min",
    "score_max",
    "metadata",
    "metadata_exists",
    "min_latency_ms",
    "max_latency_ms",
    "min_cost",
    "max_cost",
    "sort",
)
SORT_LABELS = {
    "start_time_desc": "Newest first",
    "start_time_asc": "Oldest first",
    "duration_desc": "Slowest first",
    "cost_desc": "Most expensive first",
}


@dataclass(frozen=True)
class TraceQuery:
    """The trace list's form values, and what they mean for the store."""

    form: dict[str, str]
    filters: TraceFilter
    threshold: ScoreThreshold | None
    sort: str
    cursor: str | None

    def link(self, **changes: str | None) -> str:
        """A query string with the current form values and ``changes`` (None drops a key)."""
        values: dict[str, str | None] = {**self.form, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v})


def _number(form: dict[str, str], key: str) -> float | None:
    raw = form.get(key, "")
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise PageError(400, f"{key.replace('_', ' ')} must be a number, not {raw!r}.") from None


def metadata_texts(text: str) -> list[str]:
    """The ``key=value`` conditions of the form's metadata field: separated by commas, where a
    piece without ``=`` continues the value before it (so ``tier=a,b`` is one condition)."""
    pieces: list[str] = []
    for piece in text.split(","):
        if pieces and "=" not in piece:
            pieces[-1] += "," + piece
        else:
            pieces.append(piece)
    return [piece for piece in pieces if piece.strip()]


def parse_trace_query(params: dict[str, str], window: TimeRange) -> TraceQuery:
    """The filter form read from query ``params`` (blank fields ignored); 400 on bad input."""
    form = {k: params[k].strip() for k in FORM_FIELDS if params.get(k, "").strip()}
    kind = form.get("kind")
    if kind is not None and kind not in SPAN_KINDS:
        raise PageError(400, f"Unknown span kind {kind!r}.")
    sort = form.get("sort", "start_time_desc")
    if sort not in SORTS:
        raise PageError(400, f"Unknown sort {sort!r}.")
    status = form.get("status")
    if status is not None and status not in ("ok", "error"):
        raise PageError(400, "Status must be 'ok' or 'error'.")
    tags = tuple(t.strip() for t in form.get("tags", "").split(",") if t.strip())
    try:
        measures = {
            "metadata": metadata_conditions(metadata_texts(form.get("metadata", ""))),
            "metadata_exists": tuple(
                key.strip() for key in form.get("metadata_exists", "").split(",") if key.strip()
            ),
            "min_duration_us": duration_bound("Latency ≥ (ms)", form.get("min_latency_ms")),
            "max_duration_us": duration_bound("Latency ≤ (ms)", form.get("max_latency_ms")),
            "min_cost": bound("Cost ≥ (USD)", form.get("min_cost")),
            "max_cost": bound("Cost ≤ (USD)", form.get("max_cost")),
        }
        filters = TraceFilter(
            start_us=window.start_us,
            end_us=window.end_us,
            kinds=(kind,) if kind else (),
            names=(form["name"],) if "name" in form else (),
            models=(form["model"],) if "model" in form else (),
            tags=tags,
            user_id=form.get("user"),
            session_id=form.get("session"),
            release=form.get("release"),
            status=status,
            search=form.get("q"),
            **measures,
        )
    except ValueError as exc:
        raise PageError(400, f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None
    minimum, maximum = _number(form, "score_min"), _number(form, "score_max")
    threshold = None
    if "score" in form:
        try:
            threshold = ScoreThreshold(form["score"], minimum, maximum)
        except ValueError as exc:
            raise PageError(400, str(exc).capitalize() + ".") from None
    elif minimum is not None or maximum is not None:
        raise PageError(400, "Choose a score name to filter by score value.")
    return TraceQuery(form, filters, threshold, sort, params.get("cursor") or None)
