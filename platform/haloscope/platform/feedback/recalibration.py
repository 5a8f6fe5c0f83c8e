"""Recalibrate an evaluator version on a project's human labels.

Platt scaling on the logit of the evaluator's own (uncalibrated) probability against the
people's majority labels, fitted on a seeded stratified ``1 - holdout`` share of the labelled
items; the held-back share is reported before (the evaluator's own probability and label) and
after (the recalibrated probability, labelled at the fitted accuracy-best threshold):
accuracy, Brier score, log loss and AUROC. Stored as a new active calibration version.
Refused when either class has fewer than MIN_LABELS_PER_CLASS labelled items.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from haloscope.evaluators.calibration import fit_with_holdout
from haloscope.platform.feedback.calibrations import add_calibration, calibration_as_dict
from haloscope.platform.feedback.labels import LabelQuery, labelled_items
from haloscope.platform.store.base import StoreDriver
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

MIN_LABELS_PER_CLASS = 10
DEFAULT_HOLDOUT = 0.3
MIN_HOLDOUT, MAX_HOLDOUT = 0.1, 0.5


class RecalibrationRefused(ValueError):
    """Recalibration cannot be done on these labels; the message says why."""


class RecalibrationConflict(RuntimeError):
    """Another calibration version was stored at the same moment; retrying succeeds."""


def recalibrate(
    driver: StoreDriver,
    sessions: sessionmaker[Session],
    project_id: str,
    query: LabelQuery,
    *,
    holdout: float = DEFAULT_HOLDOUT,
    seed: int = 0,
    created_by: str = "",
) -> dict[str, Any]:
    """Fit, report and store a new active calibration of ``query.evaluator`` for the project
    (the stored version as :func:`calibration_as_dict` gives it); RecalibrationRefused with the
    reason when it cannot."""
    evaluator = query.evaluator
    if evaluator.binary_labels is None:
        raise RecalibrationRefused(
            f"{evaluator.key} does not decide between two labelled classes; only such "
            "evaluators can be recalibrated"
        )
    if not MIN_HOLDOUT <= holdout <= MAX_HOLDOUT:
        raise RecalibrationRefused(
            f"holdout must be between {MIN_HOLDOUT} and {MAX_HOLDOUT}, got {holdout}"
        )
    labelled = labelled_items(driver, project_id, query)
    labels = np.array([item.human_positive for item in labelled.items], dtype=bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if min(positives, negatives) < MIN_LABELS_PER_CLASS:
        negative, positive = evaluator.binary_labels
        raise RecalibrationRefused(
            f"too few labels to recalibrate {evaluator.key}: {positives} {positive} and "
            f"{negatives} {negative} labelled items (label {query.label_name!r}"
            f"{f', {labelled.ties} tied' if labelled.ties else ''}); at least "
            f"{MIN_LABELS_PER_CLASS} of each class are needed"
        )
    fit = fit_with_holdout(
        np.array([item.raw_value for item in labelled.items]),
        np.array([item.raw_positive for item in labelled.items], dtype=bool),
        labels,
        holdout=holdout,
        seed=seed,
    )
    params = {
        "a": fit.calibration.slope,
        "b": fit.calibration.intercept,
        "threshold": fit.calibration.threshold,
        "feature": "logit of the evaluator's own probability",
        "labels": list(evaluator.binary_labels),
    }
    metrics = {
        "before": fit.before,
        "after": fit.after,
        "fitted_on": fit.fitted_on,
        "held_back": fit.held_back,
        "holdout": holdout,
        "seed": seed,
        "positives": positives,
        "negatives": negatives,
        "ties": labelled.ties,
        "selection": query.as_dict(),
    }
    try:
        with sessions.begin() as db:
            row = add_calibration(
                db,
                project_id,
                evaluator.name,
                evaluator.version,
                label_name=query.label_name,
                params=params,
                metrics=metrics,
                n_labels=len(labelled.items),
                created_by=created_by,
            )
            return calibration_as_dict(row)
    except IntegrityError as exc:
        raise RecalibrationConflict(
            f"another calibration of {evaluator.key} was stored at the same time; try again"
        ) from exc
