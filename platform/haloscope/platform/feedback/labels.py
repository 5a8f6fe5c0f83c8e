"""The labelled items of an evaluator version: each judge score that people labelled too.

A judge score (name = evaluator, its evaluator version, written by a sampling run) is paired
with the live human scores named ``label_name`` (sources ``annotation``, ``api``, ``sdk``) on
the same trace and span (a label on the trace does not count for a span's judge score).

* **A human score's class.** Positive (the class the judge's score is the probability of) is a
  boolean ``true``, a categorical value equal to the ``positive`` category, or a numeric value
  of at least 0.5; a categorical label needs ``positive`` named.
* **Several reviewers.** Each author's newest score is one vote (a score without an author is
  a vote of its own); the item's label is the majority. A tie is left out and counted.
* **The judge's class.** Its stored label when it is one of the evaluator's
  ``binary_labels`` (positive = the second), else ``value >= 0.5``. A score written under a
  project calibration also carries the evaluator's own (uncalibrated) probability and label in
  its evidence (:mod:`.calibrations`); recalibration fits on those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from haloscope.evaluators import UnknownEvaluatorError, evaluator_class
from haloscope.platform.feedback.calibrations import uncalibrated
from haloscope.platform.judges import JudgeNotFound, custom_judge_name, get_judge
from haloscope.platform.store.base import StoreDriver
from haloscope.platform.store.label_queries import judge_and_label_rows
from sqlalchemy.orm import Session

HUMAN_SOURCES: tuple[str, ...] = ("annotation", "api", "sdk")
NUMERIC_POSITIVE_FROM = 0.5
MAX_LABEL_ROWS = 100_000
MAX_NAME_CHARS = 200


class LabelError(ValueError):
    """A label selection that cannot be read (the message says why)."""


class EvaluatorNotFound(LookupError):
    """No evaluator is registered under that name and version."""


@dataclass(frozen=True)
class EvaluatorRef:
    """A registered evaluator version and its (negative, positive) labels, if it has two."""

    name: str
    version: str
    binary_labels: tuple[str, str] | None

    @property
    def key(self) -> str:
        """``name@version``."""
        return f"{self.name}@{self.version}"

    def positive(self, label: str, value: float) -> bool:
        """Whether a judge decision (stored ``label`` and ``value``) is the positive class."""
        if self.binary_labels is not None and label in self.binary_labels:
            return label == self.binary_labels[1]
        return value >= NUMERIC_POSITIVE_FROM

    def class_name(self, positive: bool) -> str:
        """The evaluator's label of a class ('positive'/'negative' when it has none)."""
        names = self.binary_labels or ("negative", "positive")
        return names[int(positive)]


def evaluator_ref(
    name: str,
    version: str | None = None,
    db: Session | None = None,
    project_id: str | None = None,
) -> EvaluatorRef:
    """The registered evaluator ``name`` at ``version`` (default: the version a rule naming none
    runs), or with ``db`` and ``project_id`` the project's custom judge ``custom:<name>`` (its
    labels from the stored spec); EvaluatorNotFound when there is none."""
    judge = custom_judge_name(name)
    if judge is not None:
        if db is None or project_id is None:
            raise EvaluatorNotFound(f"custom judge {name!r} needs its project")
        try:
            row = get_judge(db, project_id, judge, version)
        except JudgeNotFound as exc:
            raise EvaluatorNotFound(str(exc)) from exc
        negative, positive = row.spec["labels"]
        return EvaluatorRef(name, str(row.version), (negative, positive))
    try:
        cls = evaluator_class(name, version or None)
    except UnknownEvaluatorError as exc:
        raise EvaluatorNotFound(str(exc)) from exc
    return EvaluatorRef(cls.name, cls.version, cls.binary_labels)


@dataclass(frozen=True)
class LabelQuery:
    """Which judge scores to pair with which human labels: ``evaluator``'s scores of targets
    starting in ``[start_us, end_us)`` (None: unbounded), human scores named ``label_name``,
    ``positive`` the category counted positive for a categorical label."""

    evaluator: EvaluatorRef
    label_name: str
    positive: str | None = None
    start_us: int | None = None
    end_us: int | None = None

    def __post_init__(self) -> None:
        if not self.label_name or len(self.label_name) > MAX_NAME_CHARS:
            raise LabelError(f"label_name must be 1-{MAX_NAME_CHARS} characters")
        if self.positive is not None and not 0 < len(self.positive) <= MAX_NAME_CHARS:
            raise LabelError(f"positive must be 1-{MAX_NAME_CHARS} characters")
        if self.start_us is not None and self.end_us is not None and self.end_us <= self.start_us:
            raise LabelError("end must be after start")

    def as_dict(self) -> dict[str, Any]:
        """The selection as the API echoes it."""
        return {
            "evaluator": self.evaluator.name,
            "version": self.evaluator.version,
            "label_name": self.label_name,
            "positive": self.positive,
            "start": self.start_us,
            "end": self.end_us,
        }


def human_positive(value_type: str, value: float, string_value: str, positive: str | None) -> bool:
    """Whether one human score says positive (see the module docstring)."""
    if value_type == "boolean":
        return value != 0
    if value_type == "categorical":
        if positive is None:
            raise LabelError(
                "the label is categorical: name the category that counts as positive "
                f"(positive=...); found category {string_value!r}"
            )
        return string_value == positive
    return value >= NUMERIC_POSITIVE_FROM


@dataclass(frozen=True)
class LabelledItem:
    """One judged and labelled target: the stored judge score, the evaluator's own
    (uncalibrated) one, and the people's majority label with its votes."""

    trace_id: str
    span_id: str
    timestamp_us: int
    value: float
    label: str
    judge_positive: bool
    raw_value: float
    raw_label: str
    raw_positive: bool
    recalibrated: bool
    human_positive: bool
    votes: tuple[int, int]  # (positive, negative)
    authors: tuple[str, ...]


@dataclass(frozen=True)
class LabelledSet:
    """The labelled items (oldest first), the tied items left out, and whether the row cap
    (MAX_LABEL_ROWS pairs) cut the read short (the last, possibly partial, item is dropped)."""

    items: list[LabelledItem]
    ties: int
    truncated: bool


def labelled_items(driver: StoreDriver, project_id: str, query: LabelQuery) -> LabelledSet:
    """The project's items judged by ``query.evaluator`` and labelled ``query.label_name``."""
    rows = judge_and_label_rows(
        driver,
        project_id,
        evaluator=query.evaluator.name,
        version=query.evaluator.version,
        label_name=query.label_name,
        sources=HUMAN_SOURCES,
        start_us=query.start_us,
        end_us=query.end_us,
        limit=MAX_LABEL_ROWS,
    )
    truncated = len(rows) >= MAX_LABEL_ROWS
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["trace_id"], row["span_id"]), []).append(row)
    if truncated and groups:
        groups.popitem()
    items, ties = [], 0
    for group in groups.values():
        item = _item(query, group)
        if item is None:
            ties += 1
        else:
            items.append(item)
    return LabelledSet(items, ties, truncated)


def _votes(query: LabelQuery, rows: Iterable[Mapping[str, Any]]) -> tuple[int, int, list[str]]:
    """(positive votes, negative votes, authors): each author's newest score is one vote."""
    newest: dict[str, Mapping[str, Any]] = {}
    for row in rows:
        voter = f"author:{row['author']}" if row["author"] else f"score:{row['score_id']}"
        if voter not in newest or row["created_us"] > newest[voter]["created_us"]:
            newest[voter] = row
    positive = sum(
        human_positive(r["value_type"], r["human_value"], r["string_value"], query.positive)
        for r in newest.values()
    )
    authors = sorted({r["author"] for r in newest.values() if r["author"]})
    return positive, len(newest) - positive, authors


def _item(query: LabelQuery, rows: list[Mapping[str, Any]]) -> LabelledItem | None:
    positive, negative, authors = _votes(query, rows)
    if positive == negative:
        return None
    judge = rows[0]
    value, label = float(judge["judge_value"]), judge["judge_label"]
    own = uncalibrated(judge["calibration_evidence"])
    raw_value, raw_label = own if own is not None else (value, label)
    evaluator = query.evaluator
    return LabelledItem(
        trace_id=judge["trace_id"],
        span_id=judge["span_id"],
        timestamp_us=int(judge["timestamp_us"]),
        value=value,
        label=label,
        judge_positive=evaluator.positive(label, value),
        raw_value=raw_value,
        raw_label=raw_label,
        raw_positive=evaluator.positive(raw_label, raw_value),
        recalibrated=own is not None,
        human_positive=positive > negative,
        votes=(positive, negative),
        authors=tuple(authors),
    )
