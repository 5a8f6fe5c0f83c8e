"""SQLAlchemy models of the metadata DB: projects, API keys, users, memberships, web sessions.

The schema is portable across SQLite and PostgreSQL: string ids (uuid4 hex), no native enums,
and timestamps stored as timezone-aware UTC (``UTCDateTime``). Constraint names follow one
naming convention so that Alembic migrations can address them on both backends.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    MetaData,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL alike.

    Naive datetimes are refused on the way in (they are ambiguous); values read back from
    SQLite, which keeps no zone, are tagged as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


def new_id() -> str:
    """A fresh primary key: 32 lowercase hex characters of a random UUID."""
    return uuid.uuid4().hex


class Role(enum.StrEnum):
    """What a member may do in a project."""

    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"


class Base(DeclarativeBase):
    """Declarative base of every metadata model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Project(Base):
    """A tenant: every trace, score and API key belongs to exactly one project."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Days its traces and scores are kept; None keeps them for the deployment's retention.
    retention_days: Mapped[int | None] = mapped_column(default=None)

    api_keys: Mapped[list[ApiKey]] = relationship(
        back_populates="project", cascade="all, delete-orphan", passive_deletes=True
    )


class ApiKey(Base):
    """A project key pair. Only a SHA-256 hash of the secret half is stored.

    A fast hash is the right tool here, unlike for passwords: secrets are 256 bits drawn from
    ``secrets``, so guessing one from its hash is infeasible however fast the hash is, while a
    deliberately slow KDF would add tens of milliseconds to every uncached ingest request.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    public_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    secret_hint: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    project: Mapped[Project] = relationship(back_populates="api_keys")


class User(Base):
    """A person who signs in to the dashboard. ``email`` is stored lowercase."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(default=True)


class Membership(Base):
    """A user's role in a project; at most one per (user, project) pair."""

    __tablename__ = "memberships"
    __table_args__ = (CheckConstraint("role IN ('owner', 'member', 'viewer')", name="role"),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship()


class WebSession(Base):
    """A signed-in dashboard session. Only a SHA-256 hash of the cookie token is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)

    user: Mapped[User] = relationship()


class Dataset(Base):
    """A named evaluation dataset of a project; its content lives in immutable versions."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetVersion(Base):
    """One import of a dataset: numbered 1, 2, ... and never modified once written.

    ``items`` is the list of items as JSON (``id``, ``input``, ``expected_output``,
    ``context``, ``metadata``); ``content_hash`` is the SHA-256 of their canonical JSON.
    """

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int]
    item_count: Mapped[int]
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200), default="")
    items: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalRun(Base):
    """An evaluation run recorded by ``haloscope eval run``, and the gate's verdict on it.

    ``run_id`` is the id the CLI gave the run (unique within a project); ``summary`` holds
    the per-metric aggregates, ``gate`` the gate report once ``haloscope eval gate`` ran.
    """

    __tablename__ = "eval_runs"
    __table_args__ = (UniqueConstraint("project_id", "run_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(200), default="")
    dataset_version: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str] = mapped_column(String(500), default="")
    git_commit: Mapped[str] = mapped_column(String(64), default="")
    git_branch: Mapped[str] = mapped_column(String(200), default="")
    item_count: Mapped[int] = mapped_column(default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdict: Mapped[str | None] = mapped_column(String(16))
    gate: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SamplingRule(Base):
    """Which of a project's spans the sampling job scores, how many, and with what.

    ``filters`` holds ``kinds``, ``names``, ``models``, ``tags`` (all required), ``release``
    and ``metadata`` (key -> value); ``evaluators`` a list of ``{name, version, config}``.
    Exactly one of ``sample_rate`` (share of matching spans) and ``per_day`` (a fixed number)
    is set; ``max_items_per_run`` caps either.
    """

    __tablename__ = "sampling_rules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    sample_rate: Mapped[float | None]
    per_day: Mapped[int | None]
    max_items_per_run: Mapped[int] = mapped_column(default=1000)
    window_hours: Mapped[int] = mapped_column(default=24)
    seed: Mapped[int] = mapped_column(default=0)
    batch_size: Mapped[int] = mapped_column(default=16)
    evaluators: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SamplingRun(Base):
    """One execution of a sampling rule over a time window, with its progress and outcome.

    ``status`` is ``running``, ``completed`` or ``failed``; the counters add up the run's
    judge batches as they finish.
    """

    __tablename__ = "sampling_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(
        ForeignKey("sampling_rules.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    selected: Mapped[int] = mapped_column(default=0)
    batches_total: Mapped[int] = mapped_column(default=0)
    batches_done: Mapped[int] = mapped_column(default=0)
    scored: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    judge_seconds: Mapped[float] = mapped_column(default=0.0)
    error: Mapped[str] = mapped_column(String(2000), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class SamplingBatch(Base):
    """One judge batch of a run: an evaluator over a slice of the sampled spans.

    ``done`` flips once, so a batch redelivered after a worker crash is counted once.
    """

    __tablename__ = "sampling_batches"
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(
        ForeignKey("sampling_runs.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    evaluator: Mapped[dict[str, Any]] = mapped_column(JSON)
    span_keys: Mapped[list[Any]] = mapped_column(JSON)
    done: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    scored: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    seconds: Mapped[float] = mapped_column(default=0.0)


class DriftReportRecord(Base):
    """A stored drift comparison of a project: current window against a baseline window.

    ``features`` maps each feature to its verdict and statistics; ``drifted`` lists those
    whose status is ``drift``; ``baseline_pinned`` says whether the baseline was a pinned window
    (a :class:`DriftBaseline` or one given to the task) rather than the window before the
    current one.
    """

    __tablename__ = "drift_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    current_start: Mapped[datetime]
    current_end: Mapped[datetime]
    baseline_start: Mapped[datetime]
    baseline_end: Mapped[datetime]
    baseline_pinned: Mapped[bool] = mapped_column(default=False, server_default=false())
    drifted: Mapped[list[Any]] = mapped_column(JSON)
    features: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DriftBaseline(Base):
    """A project's pinned drift baseline: the window ``[start, end)`` every drift report
    compares its current window against, instead of the window before it."""

    __tablename__ = "drift_baselines"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    start: Mapped[datetime]
    end: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertRule(Base):
    """A condition on a project metric and where to notify when it holds.

    ``metric`` is one of ``hallucination_rate``, ``error_rate``, ``p95_latency_ms``,
    ``cost_per_request`` and ``drift``; the alert fires when the current window's value
    exceeds ``threshold`` (absolute) or ``threshold`` x the baseline window's value
    (``relative``). ``channels`` lists ``{"type": "webhook", "url": ...}`` and
    ``{"type": "log"}``.
    """

    __tablename__ = "alert_rules"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[float]
    relative: Mapped[bool] = mapped_column(default=False)
    window_hours: Mapped[int] = mapped_column(default=24)
    baseline_days: Mapped[int] = mapped_column(default=7)
    channels: Mapped[list[Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertEvent(Base):
    """One firing of an alert rule: the values compared and each notification's outcome."""

    __tablename__ = "alert_events"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(String(32), index=True)
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float]
    baseline: Mapped[float | None]
    limit_value: Mapped[float]
    message: Mapped[str] = mapped_column(String(1000))
    deliveries: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ScoreConfig(Base):
    """What a project's scores called ``name`` may hold: ``value_type`` ``numeric`` (within
    ``min_value``/``max_value`` when set), ``boolean``, or ``categorical`` (one of
    ``categories``). A score that breaks its config is refused."""

    __tablename__ = "score_configs"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    value_type: Mapped[str] = mapped_column(String(16))
    min_value: Mapped[float | None]
    max_value: Mapped[float | None]
    categories: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnotationQueue(Base):
    """A set of spans (or traces) people label with the project's score configs.

    ``source`` says where the items came from: ``{"kind": "filter", ...trace filter...}`` or
    ``{"kind": "sampling_rule", "rule_id": ..., "run_id": ...}``; ``score_names`` lists the
    score configs each reviewer fills in; an item is done once ``required_labels`` reviewers
    have labelled it.
    """

    __tablename__ = "annotation_queues"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    score_names: Mapped[list[str]] = mapped_column(JSON)
    required_labels: Mapped[int] = mapped_column(default=1)
    source: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnotationItem(Base):
    """One span (``span_id`` '' for a whole trace) waiting in a queue, in queue order."""

    __tablename__ = "annotation_items"
    __table_args__ = (UniqueConstraint("queue_id", "trace_id", "span_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    queue_id: Mapped[str] = mapped_column(
        ForeignKey("annotation_queues.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnotationReview(Base):
    """What one reviewer did with one item: ``labelled`` (the values are scores with source
    ``annotation`` in the trace store) or ``skipped``; one row per (item, reviewer)."""

    __tablename__ = "annotation_reviews"
    __table_args__ = (UniqueConstraint("item_id", "reviewer"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    item_id: Mapped[str] = mapped_column(
        ForeignKey("annotation_items.id", ondelete="CASCADE"), index=True
    )
    queue_id: Mapped[str] = mapped_column(String(32), index=True)
    reviewer: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(String(10_000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectCalibration(Base):
    """A project's own calibration of one evaluator version, fitted on its human labels.

    ``params`` holds the Platt map (``a``, ``b``: probability = sigmoid(a * logit(score) + b),
    score = the evaluator's own probability), the decision ``threshold`` and the evaluator's
    (negative, positive) ``labels``; ``metrics`` the held-back labels' figures before and
    after (``haloscope.platform.feedback``). At most one version per (project, evaluator,
    evaluator version) is ``active``: later sampling runs apply it; restoring an older one
    makes it active again.
    """

    __tablename__ = "project_calibrations"
    __table_args__ = (
        UniqueConstraint(
            "project_id",
            "evaluator",
            "evaluator_version",
            "version",
            name="uq_project_calibrations_version",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    evaluator: Mapped[str] = mapped_column(String(200))
    evaluator_version: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    label_name: Mapped[str] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    n_labels: Mapped[int]
    active: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModelPriceRecord(Base):
    """A project's own price for the models whose name matches ``model_pattern`` (a regular
    expression matched in full, case-insensitively), from ``effective_from`` until the project's
    next price for the same pattern. USD per one million tokens; ``cached_input_per_million``
    None bills cached input tokens at the input price."""

    __tablename__ = "model_prices"
    __table_args__ = (UniqueConstraint("project_id", "model_pattern", "effective_from"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    model_pattern: Mapped[str] = mapped_column(String(200))
    input_per_million: Mapped[float]
    output_per_million: Mapped[float]
    cached_input_per_million: Mapped[float | None]
    effective_from: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvalRunJob(Base):
    """An eval run started from the dashboard and run by a worker: the dataset version, the
    registered target and eval config (by their names in ``HALOSCOPE_EVAL_TARGETS``), an
    optional prompt template for an endpoint target, and the run's progress.

    ``status`` goes ``queued`` -> ``running`` (``items_done`` of ``items_total`` target calls)
    -> ``scoring`` -> ``completed`` (recorded as eval run ``run_id``) or ``failed`` (``error``).
    """

    __tablename__ = "eval_run_jobs"
    __table_args__ = (UniqueConstraint("project_id", "run_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(200))
    dataset_version: Mapped[int]
    target: Mapped[str] = mapped_column(String(200))
    config: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(String(20000), default="")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    items_done: Mapped[int] = mapped_column(default=0)
    items_total: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class CustomJudge(Base):
    """One immutable version of a project's custom LLM judge (``haloscope.evaluators.
    custom_judge``): ``spec`` is the validated spec's canonical dict (rubric, template,
    choices, labels, threshold). A new wording is a new ``version``; scores of the judge carry
    the evaluator name ``custom:<name>`` and this version. ``quality`` is the version's
    measured quality card (``haloscope evaluators measure``), None until measured; it is the
    one field written after the version is created."""

    __tablename__ = "custom_judges"
    __table_args__ = (UniqueConstraint("project_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int]
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)
