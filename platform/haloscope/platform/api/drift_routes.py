"""Drift reports and the pinned drift baseline, scoped to the key's project (another project's
report answers 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Response
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.job_dependencies import (
    CeleryApp,
    Limit,
    Project,
    Sessions,
    StrictBody,
    project_row_or_404,
)
from haloscope.platform.db.models import DriftReportRecord
from haloscope.platform.jobs import baselines, drift_job
from haloscope.platform.jobs.tasks import start_drift_report
from pydantic import Field

router = APIRouter(prefix="/api/v1")


class DriftBaselineBody(StrictBody):
    """A window to pin as the project's drift baseline (ISO 8601 times with a zone)."""

    start: datetime
    end: datetime
    note: str = Field("", max_length=500)


class DriftRunBody(StrictBody):
    """A drift report to compute now: the ``window_hours`` before ``end`` (default: now)."""

    window_hours: int = Field(24, ge=1, le=24 * 31)
    end: datetime | None = None


@router.get("/drift-reports")
def list_drift_reports(
    project_id: Project, sessions: Sessions, limit: Limit = 50
) -> dict[str, Any]:
    """The project's drift reports, newest first."""
    with sessions() as session:
        reports = drift_job.list_reports(session, project_id, limit)
        return {"data": [drift_job.report_as_dict(r) for r in reports]}


@router.get("/drift-reports/{report_id}")
def get_drift_report(report_id: str, project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """One drift report with every feature's verdict and statistics."""
    with sessions() as session:
        report = project_row_or_404(
            session, DriftReportRecord, report_id, project_id, "drift report"
        )
        return drift_job.report_as_dict(report)


@router.post("/drift-reports", status_code=202)
def trigger_drift_report(
    project_id: Project, sessions: Sessions, celery: CeleryApp, body: DriftRunBody | None = None
) -> dict[str, Any]:
    """Compute a drift report now (against the pinned baseline or the previous window); it
    appears under ``GET /drift-reports`` when done."""
    body = body or DriftRunBody()
    if body.end is not None and body.end.tzinfo is None:
        raise ApiError(400, "end has no time zone; add Z or +00:00")
    windows = start_drift_report(
        celery, sessions, project_id, end=body.end, window_hours=body.window_hours
    )
    return {"status": "queued", **windows.as_dict()}


@router.get("/drift-baseline")
def get_drift_baseline(project_id: Project, sessions: Sessions) -> dict[str, Any]:
    """The project's pinned drift baseline (``null`` when drift compares the previous window)."""
    with sessions() as session:
        pinned = baselines.get_baseline(session, project_id)
        return {"baseline": None if pinned is None else baselines.baseline_as_dict(pinned)}


@router.put("/drift-baseline")
def pin_drift_baseline(
    body: DriftBaselineBody, project_id: Project, sessions: Sessions
) -> dict[str, Any]:
    """Pin ``[start, end)`` as the baseline of the project's drift reports (replaces one)."""
    with sessions() as session:
        try:
            pinned = baselines.pin_baseline(session, project_id, body.start, body.end, body.note)
        except baselines.BaselineError as exc:
            raise ApiError(400, str(exc)) from exc
        session.commit()
        return {"baseline": baselines.baseline_as_dict(pinned)}


@router.delete("/drift-baseline", status_code=204)
def clear_drift_baseline(project_id: Project, sessions: Sessions) -> Response:
    """Unpin the baseline: drift reports compare the previous window again."""
    with sessions() as session:
        if not baselines.clear_baseline(session, project_id):
            raise ApiError(404, "no drift baseline is pinned for this project")
        session.commit()
    return Response(status_code=204)
