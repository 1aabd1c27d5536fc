"""lockout: per-account failure counter, delay and hard lock; per-source failures

Revision ID: b4a1c0ffee01
Revises: 5a1e0c7d9b21
Create Date: 2026-11-24 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "b4a1c0ffee01"
down_revision = "5a1e0c7d9b21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(sa.Column("delayed_until", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("locked_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("password_changed_at", UtcDateTime(), nullable=True))
    op.create_table(
        "login_source",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", UtcDateTime(), nullable=True),
        sa.Column("delayed_until", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_login_source")),
    )


def downgrade() -> None:
    op.drop_table("login_source")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("password_changed_at")
        batch.drop_column("locked_at")
        batch.drop_column("delayed_until")
        batch.drop_column("failed_logins")
