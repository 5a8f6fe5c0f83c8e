"""Project calibrations of an evaluator version (``project_calibrations``): listed, added as a
new active version, restored, switched off; and applied to a judge score by sampling runs.

A calibration's ``params`` hold the Platt map on the logit of the evaluator's own probability,
``p = sigmoid(a * logit(score) + b)``, the decision ``threshold`` on ``p`` and the evaluator's
``labels`` (negative, positive). At most one version per (project, evaluator, evaluator
version) is active; with none active the evaluator's shipped calibration stands.

A score written under a project calibration stores the recalibrated probability as its value
and the label its threshold gives; its reason ends with ``[project calibration vN:
uncalibrated 0.8123 hallucinated]`` and its evidence gains one item ``{"kind":
"calibration", "text": "project calibration vN", "score": <uncalibrated>, "label":
<uncalibrated label>}``, so the evaluator's own figure stays visible on the trace page and
readable by the next recalibration (:func:`uncalibrated`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from haloscope.evaluators import Calibration, Evidence
from haloscope.platform.db.models import ProjectCalibration
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

CALIBRATION_KIND = "calibration"


class CalibrationNotFound(LookupError):
    """The project has no such calibration (or none active)."""


@dataclass(frozen=True)
class CalibratedScore:
    """A judge score after a project calibration: value, label, reason and evidence items."""

    value: float
    label: str
    reason: str
    evidence: list[dict[str, Any]]


@dataclass(frozen=True)
class ActiveCalibration:
    """The active project calibration of one evaluator version, ready to apply."""

    version: int
    calibration: Calibration
    labels: tuple[str, str]

    def apply(
        self, value: float, label: str, reason: str, evidence: Sequence[dict[str, Any]]
    ) -> CalibratedScore:
        """The recalibrated score of the evaluator's own ``value`` and ``label``."""
        probability = float(self.calibration.probability(np.array([value]))[0])
        decided = self.labels[int(probability >= self.calibration.threshold)]
        note = f"project calibration v{self.version}: uncalibrated {value:.4f} {label}".strip()
        record = Evidence(CALIBRATION_KIND, f"project calibration v{self.version}", value, label)
        return CalibratedScore(
            value=probability,
            label=decided,
            reason=f"{reason} [{note}]" if reason else note,
            evidence=[*evidence, record.__dict__],
        )


def uncalibrated(evidence: str) -> tuple[float, str] | None:
    """The evaluator's own (score, label) recorded in a score's evidence JSON by
    :meth:`ActiveCalibration.apply`; None when the score was not recalibrated."""
    if not evidence:
        return None
    try:
        items = orjson.loads(evidence)
    except orjson.JSONDecodeError:
        return None
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("kind") == CALIBRATION_KIND:
            score = item.get("score")
            if isinstance(score, int | float):
                return float(score), str(item.get("label") or "")
    return None


def _scope(project_id: str, evaluator: str, version: str) -> tuple[Any, ...]:
    return (
        ProjectCalibration.project_id == project_id,
        ProjectCalibration.evaluator == evaluator,
        ProjectCalibration.evaluator_version == version,
    )


def list_calibrations(
    db: Session, project_id: str, evaluator: str, version: str
) -> list[ProjectCalibration]:
    """The project's calibrations of ``evaluator@version``, newest version first."""
    query = (
        select(ProjectCalibration)
        .where(*_scope(project_id, evaluator, version))
        .order_by(ProjectCalibration.version.desc())
    )
    return list(db.scalars(query))


def active_calibration(
    db: Session, project_id: str, evaluator: str, version: str
) -> ActiveCalibration | None:
    """The active project calibration of ``evaluator@version``, None when none is."""
    row = db.scalars(
        select(ProjectCalibration).where(
            *_scope(project_id, evaluator, version), ProjectCalibration.active.is_(True)
        )
    ).first()
    if row is None:
        return None
    params = row.params
    calibration = Calibration(float(params["a"]), float(params["b"]), float(params["threshold"]))
    negative, positive = params["labels"]
    return ActiveCalibration(row.version, calibration, (str(negative), str(positive)))


def add_calibration(
    db: Session,
    project_id: str,
    evaluator: str,
    version: str,
    *,
    label_name: str,
    params: dict[str, Any],
    metrics: dict[str, Any],
    n_labels: int,
    created_by: str,
) -> ProjectCalibration:
    """Store a new calibration version (the previous highest + 1), active, the others not
    (the caller commits; two at once collide on the unique version and one fails)."""
    scope = _scope(project_id, evaluator, version)
    latest = db.scalar(select(func.max(ProjectCalibration.version)).where(*scope))
    db.execute(update(ProjectCalibration).where(*scope).values(active=False))
    row = ProjectCalibration(
        project_id=project_id,
        evaluator=evaluator,
        evaluator_version=version,
        version=(latest or 0) + 1,
        label_name=label_name,
        params=params,
        metrics=metrics,
        n_labels=n_labels,
        active=True,
        created_by=created_by,
    )
    db.add(row)
    db.flush()
    return row


def activate_calibration(
    db: Session, project_id: str, evaluator: str, version: str, number: int
) -> ProjectCalibration:
    """Make calibration version ``number`` the active one (restore); CalibrationNotFound when
    the project has no such version (the caller commits)."""
    scope = _scope(project_id, evaluator, version)
    row = db.scalars(
        select(ProjectCalibration).where(*scope, ProjectCalibration.version == number)
    ).first()
    if row is None:
        raise CalibrationNotFound(
            f"this project has no calibration version {number} of {evaluator}@{version}"
        )
    db.execute(
        update(ProjectCalibration)
        .where(*scope, ProjectCalibration.version != number)
        .values(active=False)
    )
    row.active = True
    db.flush()
    return row


def deactivate_calibrations(db: Session, project_id: str, evaluator: str, version: str) -> int:
    """Switch the project's calibration of ``evaluator@version`` off (back to the evaluator's
    shipped one): the number of versions switched off; CalibrationNotFound when none was
    active (the caller commits)."""
    switched = db.execute(
        update(ProjectCalibration)
        .where(*_scope(project_id, evaluator, version), ProjectCalibration.active.is_(True))
        .values(active=False)
    ).rowcount
    if not switched:
        raise CalibrationNotFound(f"no project calibration of {evaluator}@{version} is active")
    return switched


def calibration_as_dict(row: ProjectCalibration) -> dict[str, Any]:
    """A JSON-ready view of a calibration version."""
    return {
        "evaluator": row.evaluator,
        "evaluator_version": row.evaluator_version,
        "version": row.version,
        "label_name": row.label_name,
        "active": row.active,
        "params": row.params,
        "metrics": row.metrics,
        "n_labels": row.n_labels,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
    }
