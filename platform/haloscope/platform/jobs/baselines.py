"""Pinned drift baselines: a project's reference window, stored in ``drift_baselines``, and
the choice of the windows a drift report compares."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from haloscope.platform.db.models import DriftBaseline, utcnow
from haloscope.platform.jobs.drift_job import DriftWindows
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
MAX_BASELINE_DAYS = 90


class BaselineError(ValueError):
    """A pinned baseline is invalid; the message says why and how to fix it."""


def parse_time(value: str, field: str) -> datetime:
    """An ISO 8601 time with a zone (``2025-11-20T00:00:00Z``), as an aware datetime."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BaselineError(
            f"{field} {value!r} is not an ISO 8601 time; use e.g. 2025-11-20T00:00:00Z"
        ) from exc
    if moment.tzinfo is None:
        raise BaselineError(f"{field} {value!r} has no time zone; add Z or +00:00")
    return moment


def pin_baseline(
    session: Session,
    project_id: str,
    start: datetime,
    end: datetime,
    note: str = "",
    *,
    now: datetime | None = None,
) -> DriftBaseline:
    """Pin ``[start, end)`` as the project's drift baseline, replacing any pinned one (the
    caller commits). The window must lie in the past and span at most 90 days."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BaselineError("start and end must carry a time zone")
    if start >= end:
        raise BaselineError("the baseline must start before it ends")
    if end > (now or utcnow()):
        raise BaselineError("the baseline must end in the past")
    if end - start > timedelta(days=MAX_BASELINE_DAYS):
        raise BaselineError(f"the baseline may span at most {MAX_BASELINE_DAYS} days")
    if len(note) > 500:
        raise BaselineError("note must be at most 500 characters")
    baseline = session.get(DriftBaseline, project_id)
    if baseline is None:
        baseline = DriftBaseline(project_id=project_id)
        session.add(baseline)
    baseline.start, baseline.end, baseline.note = start, end, note
    baseline.created_at = utcnow()
    session.flush()
    return baseline


def get_baseline(session: Session, project_id: str) -> DriftBaseline | None:
    """The project's pinned baseline, or None."""
    return session.get(DriftBaseline, project_id)


def clear_baseline(session: Session, project_id: str) -> bool:
    """Unpin the project's baseline; False when none was pinned (the caller commits)."""
    baseline = session.get(DriftBaseline, project_id)
    if baseline is None:
        return False
    session.delete(baseline)
    session.flush()
    return True


def baseline_as_dict(baseline: DriftBaseline) -> dict[str, Any]:
    """A JSON-ready view of a pinned baseline."""
    return {
        "start": baseline.start.isoformat(),
        "end": baseline.end.isoformat(),
        "note": baseline.note,
        "pinned_at": baseline.created_at.isoformat(),
    }


def report_windows(
    session: Session,
    project_id: str,
    end: datetime,
    window_hours: int,
    baseline: tuple[str, str] | None = None,
) -> tuple[DriftWindows, bool]:
    """The windows of a drift report ending at ``end`` and whether its baseline is pinned
    (not the previous window).

    An explicit ``baseline`` (ISO start, end) wins; else the project's pinned baseline; else,
    or when the pinned one overlaps the current window (logged), the previous window.
    """
    if baseline is not None:
        start, stop = (parse_time(value, "baseline") for value in baseline)
        return DriftWindows(end - timedelta(hours=window_hours), end, start, stop), True
    pinned = get_baseline(session, project_id)
    current_start = end - timedelta(hours=window_hours)
    if pinned is not None:
        if pinned.end <= current_start:
            return DriftWindows(current_start, end, pinned.start, pinned.end), True
        log.warning(
            "project %s: the pinned baseline ends at %s, inside the current window from %s; "
            "comparing against the previous window",
            project_id,
            pinned.end.isoformat(),
            current_start.isoformat(),
        )
    return DriftWindows.previous(end, window_hours), False
