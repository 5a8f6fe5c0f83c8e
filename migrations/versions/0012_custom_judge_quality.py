"""Custom LLM judges: the quality card measured for a judge version (nullable JSON).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("custom_judges") as batch:
        batch.add_column(sa.Column("quality", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("custom_judges") as batch:
        batch.drop_column("quality")
