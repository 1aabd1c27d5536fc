"""retention: legal holds, and when content was last sealed under each data key

Revision ID: 7328de41ee86
Revises: b4d1e2f3a5c6
Create Date: 2026-11-24 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "7328de41ee86"
down_revision = "b4d1e2f3a5c6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "legal_hold",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_hold")),
    )
    op.create_index(op.f("ix_legal_hold_target"), "legal_hold", ["target"], unique=False)
    with op.batch_alter_table("data_key") as batch:
        batch.add_column(
            sa.Column("last_sealed_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("data_key") as batch:
        batch.drop_column("last_sealed_at")
    op.drop_index(op.f("ix_legal_hold_target"), table_name="legal_hold")
    op.drop_table("legal_hold")
