"""Judge-human agreement and project calibrations of an evaluator version: the agreement
figures, recalibration from the project's labels, the calibration versions, restoring one and
switching them off. Every route runs as the project of the request's key pair; ``version``
is the evaluator version (default: the one a rule naming none runs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from haloscope.platform.api.errors import ApiError
from haloscope.platform.api.job_dependencies import Context, Project, Sessions, StrictBody
from haloscope.platform.api.query_params import parse_timestamp
from haloscope.platform.auth.credentials import parse_key_pair
from haloscope.platform.feedback import calibrations
from haloscope.platform.feedback.agreement import agreement_report
from haloscope.platform.feedback.labels import (
    MAX_NAME_CHARS,
    EvaluatorNotFound,
    EvaluatorRef,
    LabelError,
    LabelQuery,
    evaluator_ref,
)
from haloscope.platform.feedback.recalibration import (
    DEFAULT_HOLDOUT,
    RecalibrationConflict,
    RecalibrationRefused,
    recalibrate,
)
from pydantic import Field
from sqlalchemy.orm import Session, sessionmaker

router = APIRouter(prefix="/api/v1")

Version = Annotated[str | None, Query(max_length=32)]
LabelName = Annotated[str, Query(min_length=1, max_length=MAX_NAME_CHARS)]
Positive = Annotated[str | None, Query(min_length=1, max_length=MAX_NAME_CHARS)]
CalibrationVersion = Annotated[int, Path(ge=1, le=2**31 - 1)]
# What each refusal of the feedback services is answered with.
_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (EvaluatorNotFound, 404),
    (calibrations.CalibrationNotFound, 404),
    (LabelError, 400),
    (RecalibrationRefused, 422),
    (RecalibrationConflict, 409),
)


class RecalibrationBody(StrictBody):
    """What to fit a new calibration on."""

    label_name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    version: str | None = Field(None, max_length=32)
    positive: str | None = Field(None, min_length=1, max_length=MAX_NAME_CHARS)
    holdout: float = DEFAULT_HOLDOUT
    seed: int = Field(0, ge=0, le=2**32 - 1)
    start: str | None = None
    end: str | None = None


@contextmanager
def _answered() -> Iterator[None]:
    """Turn a refusal of the feedback services into an API error with its reason."""
    try:
        yield
    except tuple(kind for kind, _ in _STATUS) as exc:
        status = next(code for kind, code in _STATUS if isinstance(exc, kind))
        raise ApiError(status, str(exc)) from exc


def _ref(
    sessions: sessionmaker[Session], project_id: str, evaluator: str, version: str | None
) -> EvaluatorRef:
    """A registered evaluator version or the project's custom judge ``custom:<name>``."""
    with sessions() as db:
        return evaluator_ref(evaluator, version, db, project_id)


def _query(
    ref: EvaluatorRef,
    label_name: str,
    positive: str | None,
    start: str | None,
    end: str | None,
) -> LabelQuery:
    return LabelQuery(
        ref,
        label_name,
        positive,
        parse_timestamp("start", start),
        parse_timestamp("end", end),
    )


@router.get("/evaluators/{evaluator}/agreement")
def get_agreement(
    evaluator: str,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
    label_name: LabelName,
    version: Version = None,
    positive: Positive = None,
    start: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Accuracy, Cohen's kappa (with 95% bootstrap intervals) and the confusion matrix of the
    evaluator version's judge scores against the human scores ``label_name`` on the same
    targets, and the items where they disagree."""
    with _answered():
        ref = _ref(sessions, project_id, evaluator, version)
        query = _query(ref, label_name, positive, start, end)
        return agreement_report(ctx.store.driver, project_id, query)


@router.get("/evaluators/{evaluator}/calibrations")
def list_calibrations(
    evaluator: str, project_id: Project, sessions: Sessions, version: Version = None
) -> dict[str, Any]:
    """The project's calibration versions of the evaluator version, newest first."""
    with _answered():
        ref = _ref(sessions, project_id, evaluator, version)
    with sessions() as db:
        rows = calibrations.list_calibrations(db, project_id, ref.name, ref.version)
        data = [calibrations.calibration_as_dict(row) for row in rows]
    active = next((row["version"] for row in data if row["active"]), None)
    return {"evaluator": ref.name, "version": ref.version, "active": active, "data": data}


@router.post("/evaluators/{evaluator}/calibrations", status_code=201)
def create_calibration(
    evaluator: str,
    body: RecalibrationBody,
    request: Request,
    project_id: Project,
    ctx: Context,
    sessions: Sessions,
) -> dict[str, Any]:
    """Recalibrate the evaluator version on the project's labels ``label_name``: a new active
    calibration version with its held-back figures before and after; 422 with the reason when
    the labels do not allow it (too few of a class)."""
    public_key, _ = parse_key_pair(request.headers["authorization"])
    with _answered():
        ref = _ref(sessions, project_id, evaluator, body.version)
        query = _query(ref, body.label_name, body.positive, body.start, body.end)
        return recalibrate(
            ctx.store.driver,
            sessions,
            project_id,
            query,
            holdout=body.holdout,
            seed=body.seed,
            created_by=public_key,
        )


@router.post("/evaluators/{evaluator}/calibrations/{calibration}/activate")
def activate_calibration(
    evaluator: str,
    calibration: CalibrationVersion,
    project_id: Project,
    sessions: Sessions,
    version: Version = None,
) -> dict[str, Any]:
    """Make calibration version ``calibration`` the active one (restore an earlier version);
    later sampling runs apply it."""
    with _answered(), sessions.begin() as db:
        ref = evaluator_ref(evaluator, version, db, project_id)
        row = calibrations.activate_calibration(db, project_id, ref.name, ref.version, calibration)
        return calibrations.calibration_as_dict(row)


@router.delete("/evaluators/{evaluator}/calibrations/active")
def deactivate_calibrations(
    evaluator: str, project_id: Project, sessions: Sessions, version: Version = None
) -> dict[str, Any]:
    """Switch the project's calibration off: later sampling runs store the evaluator's own
    (shipped) calibration's scores again; 404 when none is active."""
    with _answered(), sessions.begin() as db:
        ref = evaluator_ref(evaluator, version, db, project_id)
        calibrations.deactivate_calibrations(db, project_id, ref.name, ref.version)
    return {"evaluator": ref.name, "version": ref.version, "active": None}
