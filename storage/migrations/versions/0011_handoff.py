"""handoffs to support staff and their ordered outbox

Revision ID: 0011_handoff
Revises: 0012_richmenu
Create Date: 2026-12-01 20:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_handoff"
down_revision = "0012_richmenu"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_user_id", sa.String(length=64), nullable=False),
        sa.Column("open_line_user_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_staff_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("no_reply_notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("staff_channel", sa.String(length=40), nullable=True),
        sa.Column("staff_thread_ts", sa.String(length=40), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoffs")),
        sa.UniqueConstraint("open_line_user_id", name=op.f("uq_handoffs_open_line_user_id")),
        sa.UniqueConstraint("staff_thread_ts", name=op.f("uq_handoffs_staff_thread_ts")),
    )
    op.create_index("ix_handoffs_line_user_id", "handoffs", ["line_user_id"], unique=False)
    op.create_index("ix_handoffs_closed_at", "handoffs", ["closed_at"], unique=False)
    op.create_table(
        "handoff_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["handoff_id"], ["handoffs.id"],
                                name=op.f("fk_handoff_messages_handoff_id_handoffs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_messages")),
    )
    op.create_index("ix_handoff_messages_handoff_id_sent_at", "handoff_messages", ["handoff_id", "sent_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_handoff_messages_handoff_id_sent_at", table_name="handoff_messages")
    op.drop_table("handoff_messages")
    op.drop_index("ix_handoffs_closed_at", table_name="handoffs")
    op.drop_index("ix_handoffs_line_user_id", table_name="handoffs")
    op.drop_table("handoffs")
