"""the FAQ: its entries, the set's version, and what customers asked that nothing answered

Revision ID: 0013_faq
Revises: 0012_notices
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_faq"
down_revision = "0012_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=200), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("examples", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_entries")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_faq_entries_entry_id")),
    )
    op.create_table(
        "faq_sets",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_sets")),
    )
    op.create_table(
        "faq_misses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("best_entry", sa.String(length=64), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_faq_misses")),
    )
    with op.batch_alter_table("faq_misses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_faq_misses_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("faq_misses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_misses_created_at"))
    op.drop_table("faq_misses")
    op.drop_table("faq_sets")
    op.drop_table("faq_entries")
