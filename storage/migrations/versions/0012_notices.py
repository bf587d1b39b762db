"""bill notices: one delivery row per (account, month); LINE links remember a block

Revision ID: 0012_notices
Revises: 0011_handoff
Create Date: 2026-12-01 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0012_notices"
down_revision = "0011_handoff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("line_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "notice_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("billing_month", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("skip_reason", sa.String(length=20), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=60), nullable=True),
        sa.Column("claim", sa.String(length=36), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_notice_deliveries_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_deliveries")),
        sa.UniqueConstraint("account_id", "billing_month", name="uq_notice_deliveries_account_month"),
    )
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_notice_deliveries_month_status", ["billing_month", "status"], unique=False)
        batch_op.create_index("ix_notice_deliveries_claim", ["claim"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notice_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_notice_deliveries_claim")
        batch_op.drop_index("ix_notice_deliveries_month_status")
    op.drop_table("notice_deliveries")
    with op.batch_alter_table("line_links", schema=None) as batch_op:
        batch_op.drop_column("blocked_at")
