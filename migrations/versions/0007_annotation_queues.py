"""Annotation queues: the queues, their items, and each reviewer's label or skip per item.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "annotation_queues",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("score_names", sa.JSON(), nullable=False),
        sa.Column("required_labels", sa.Integer(), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_annotation_queues_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_annotation_queues"),
        sa.UniqueConstraint("project_id", "name", name="uq_annotation_queues_project_id_name"),
    )
    op.create_index("ix_annotation_queues_project_id", "annotation_queues", ["project_id"])
    op.create_table(
        "annotation_items",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["annotation_queues.id"],
            name="fk_annotation_items_queue_id_annotation_queues",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_annotation_items"),
        sa.UniqueConstraint(
            "queue_id", "trace_id", "span_id", name="uq_annotation_items_queue_id_trace_id_span_id"
        ),
    )
    op.create_index("ix_annotation_items_queue_id", "annotation_items", ["queue_id"])
    op.create_table(
        "annotation_reviews",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("item_id", sa.String(32), nullable=False),
        sa.Column("queue_id", sa.String(32), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("comment", sa.String(10_000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["annotation_items.id"],
            name="fk_annotation_reviews_item_id_annotation_items",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_annotation_reviews"),
        sa.UniqueConstraint("item_id", "reviewer", name="uq_annotation_reviews_item_id_reviewer"),
    )
    op.create_index("ix_annotation_reviews_item_id", "annotation_reviews", ["item_id"])
    op.create_index("ix_annotation_reviews_queue_id", "annotation_reviews", ["queue_id"])


def downgrade() -> None:
    op.drop_index("ix_annotation_reviews_queue_id", table_name="annotation_reviews")
    op.drop_index("ix_annotation_reviews_item_id", table_name="annotation_reviews")
    op.drop_table("annotation_reviews")
    op.drop_index("ix_annotation_items_queue_id", table_name="annotation_items")
    op.drop_table("annotation_items")
    op.drop_index("ix_annotation_queues_project_id", table_name="annotation_queues")
    op.drop_table("annotation_queues")
