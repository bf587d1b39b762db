"""the FAQ set's lending plan: which shipped customer phrasings each entry borrows, worked out at import

Revision ID: 0015_faq_lending
Revises: 0014_email_changes
Create Date: 2026-12-06 01:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_faq_lending"
down_revision = "0014_email_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faq_sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lending", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("faq_sets", schema=None) as batch_op:
        batch_op.drop_column("lending")
