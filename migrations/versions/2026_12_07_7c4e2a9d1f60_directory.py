"""directory: internal users synchronised from the directory (LDAP/AD), the sync's high-water mark

Revision ID: 7c4e2a9d1f60
Revises: f2a9d4c7b3e1
Create Date: 2026-12-07 14:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "7c4e2a9d1f60"
down_revision = "f2a9d4c7b3e1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_account",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("directory_id", sa.String(length=255), nullable=False),
        sa.Column("dn", sa.String(length=1000), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("synced_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_directory_account_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_account")),
        sa.UniqueConstraint("directory_id", name=op.f("uq_directory_account_directory_id")),
        sa.UniqueConstraint("user_id", name=op.f("uq_directory_account_user_id")),
    )
    op.create_table(
        "directory_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("high_water", sa.String(length=64), nullable=True),
        sa.Column("last_full_at", UtcDateTime(), nullable=True),
        sa.Column("last_run_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_directory_state")),
    )


def downgrade() -> None:
    op.drop_table("directory_state")
    op.drop_table("directory_account")
