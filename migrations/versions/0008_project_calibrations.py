"""Project calibrations: an evaluator version recalibrated on one project's human labels.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "project_calibrations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("evaluator", sa.String(200), nullable=False),
        sa.Column("evaluator_version", sa.String(32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("label_name", sa.String(200), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("n_labels", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_calibrations_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_project_calibrations"),
        sa.UniqueConstraint(
            "project_id",
            "evaluator",
            "evaluator_version",
            "version",
            name="uq_project_calibrations_version",
        ),
    )
    op.create_index("ix_project_calibrations_project_id", "project_calibrations", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_project_calibrations_project_id", table_name="project_calibrations")
    op.drop_table("project_calibrations")
