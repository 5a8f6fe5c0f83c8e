"""Model prices per project: the project's own prices beside the shipped price table.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_prices",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("model_pattern", sa.String(200), nullable=False),
        sa.Column("input_per_million", sa.Double(), nullable=False),
        sa.Column("output_per_million", sa.Double(), nullable=False),
        sa.Column("cached_input_per_million", sa.Double(), nullable=True),
        sa.Column("effective_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_model_prices_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_model_prices"),
        sa.UniqueConstraint(
            "project_id",
            "model_pattern",
            "effective_from",
            name="uq_model_prices_project_id_model_pattern_effective_from",
        ),
    )
    op.create_index("ix_model_prices_project_id", "model_prices", ["project_id"])


def downgrade() -> None:
    op.drop_index("ix_model_prices_project_id", table_name="model_prices")
    op.drop_table("model_prices")
