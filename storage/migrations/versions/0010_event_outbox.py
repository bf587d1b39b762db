"""event outbox: one row per LINE event's turn (exactly-once delivery)

Revision ID: 0010_event_outbox
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_event_outbox"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_outcomes")),
        sa.UniqueConstraint("event_id", name=op.f("uq_event_outcomes_event_id")),
    )
    op.create_index(op.f("ix_event_outcomes_created_at"), "event_outcomes", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_event_outcomes_created_at"), table_name="event_outcomes")
    op.drop_table("event_outcomes")
