"""report links: single-use links to an audit report, by the hash of their token

Revision ID: ef74e5dcd4a9
Revises: 7b02c3d4e5f6
Create Date: 2026-11-24 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "ef74e5dcd4a9"
down_revision = "7b02c3d4e5f6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_link",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_report_link_token_hash")),
    )


def downgrade() -> None:
    op.drop_table("report_link")
