"""rich menus in use on LINE, by kind

Revision ID: 0012_richmenu
Revises: 0010_event_outbox
Create Date: 2026-12-01 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0012_richmenu"
down_revision = "0010_event_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rich_menus",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("rich_menu_id", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", name=op.f("pk_rich_menus")),
    )


def downgrade() -> None:
    op.drop_table("rich_menus")
