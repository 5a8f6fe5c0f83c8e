"""Background jobs: sampling rules, runs and judge batches, drift reports, alert rules and events.

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column:
    return sa.Column("id", sa.String(32), nullable=False)


def _time(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def _int(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "sampling_rules",
        _id(),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("sample_rate", sa.Double(), nullable=True),
        sa.Column("per_day", sa.Integer(), nullable=True),
        _int("max_items_per_run"),
        _int("window_hours"),
        _int("seed"),
        _int("batch_size"),
        sa.Column("evaluators", sa.JSON(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _fk("sampling_rules", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name="pk_sampling_rules"),
        sa.UniqueConstraint("project_id", "name", name="uq_sampling_rules_project_id_name"),
    )
    op.create_index("ix_sampling_rules_project_id", "sampling_rules", ["project_id"])
    op.create_table(
        "sampling_runs",
        _id(),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("window_start"),
        _time("window_end"),
        *(_int(name) for name in ("selected", "batches_total", "batches_done")),
        *(_int(name) for name in ("scored", "skipped", "failed")),
        sa.Column("judge_seconds", sa.Double(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=False),
        _time("started_at"),
        _time("finished_at", nullable=True),
        _fk("sampling_runs", "rule_id", "sampling_rules"),
        sa.PrimaryKeyConstraint("id", name="pk_sampling_runs"),
    )
    op.create_index("ix_sampling_runs_rule_id", "sampling_runs", ["rule_id"])
    op.create_index("ix_sampling_runs_project_id", "sampling_runs", ["project_id"])
    op.create_table(
        "sampling_batches",
        _id(),
        sa.Column("run_id", sa.String(32), nullable=False),
        _int("position"),
        sa.Column("evaluator", sa.JSON(), nullable=False),
        sa.Column("span_keys", sa.JSON(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        *(_int(name) for name in ("attempts", "scored", "skipped", "failed")),
        sa.Column("seconds", sa.Double(), nullable=False),
        _fk("sampling_batches", "run_id", "sampling_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_sampling_batches"),
        sa.UniqueConstraint("run_id", "position", name="uq_sampling_batches_run_id_position"),
    )
    op.create_index("ix_sampling_batches_run_id", "sampling_batches", ["run_id"])
    op.create_table(
        "drift_reports",
        _id(),
        sa.Column("project_id", sa.String(32), nullable=False),
        *(_time(name) for name in ("current_start", "current_end")),
        *(_time(name) for name in ("baseline_start", "baseline_end")),
        sa.Column("drifted", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        _time("created_at"),
        _fk("drift_reports", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name="pk_drift_reports"),
    )
    op.create_index("ix_drift_reports_project_id", "drift_reports", ["project_id"])
    op.create_table(
        "alert_rules",
        _id(),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("threshold", sa.Double(), nullable=False),
        sa.Column("relative", sa.Boolean(), nullable=False),
        _int("window_hours"),
        _int("baseline_days"),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        _time("created_at"),
        _fk("alert_rules", "project_id", "projects"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_rules"),
        sa.UniqueConstraint("project_id", "name", name="uq_alert_rules_project_id_name"),
    )
    op.create_index("ix_alert_rules_project_id", "alert_rules", ["project_id"])
    op.create_table(
        "alert_events",
        _id(),
        sa.Column("rule_id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("baseline", sa.Double(), nullable=True),
        sa.Column("limit_value", sa.Double(), nullable=False),
        sa.Column("message", sa.String(1000), nullable=False),
        sa.Column("deliveries", sa.JSON(), nullable=False),
        _time("created_at"),
        _fk("alert_events", "rule_id", "alert_rules"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_rule_id", "alert_events", ["rule_id"])
    op.create_index("ix_alert_events_project_id", "alert_events", ["project_id"])
    op.create_index("ix_alert_events_created_at", "alert_events", ["created_at"])


def downgrade() -> None:
    for table in (
        "alert_events",
        "alert_rules",
        "drift_reports",
        "sampling_batches",
        "sampling_runs",
        "sampling_rules",
    ):
        op.drop_table(table)
