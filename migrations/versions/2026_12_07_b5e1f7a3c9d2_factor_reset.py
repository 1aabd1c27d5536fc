"""factor_reset: a second factor reset, done once a second administrator approves it

Revision ID: b5e1f7a3c9d2
Revises: 9e3b5d7f2a41
Create Date: 2026-12-07 17:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "b5e1f7a3c9d2"
down_revision = "9e3b5d7f2a41"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "factor_reset",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("factor", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_factor_reset_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"],
            ["user_account.id"],
            name=op.f("fk_factor_reset_requested_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_factor_reset_decided_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor_reset")),
    )
    op.create_index(op.f("ix_factor_reset_user_id"), "factor_reset", ["user_id"])
    op.create_index(op.f("ix_factor_reset_state"), "factor_reset", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_factor_reset_state"), table_name="factor_reset")
    op.drop_index(op.f("ix_factor_reset_user_id"), table_name="factor_reset")
    op.drop_table("factor_reset")
