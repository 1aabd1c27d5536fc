"""directory_mapping: versions of the group-to-role mapping, in force once a second admin approves

Revision ID: 9e3b5d7f2a41
Revises: 7c4e2a9d1f60
Create Date: 2026-12-07 15:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "9e3b5d7f2a41"
down_revision = "7c4e2a9d1f60"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "directory_mapping",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=32), nullable=False),
        sa.Column("proposed_at", UtcDateTime(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["proposed_by"],
            ["user_account.id"],
            name=op.f("fk_directory_mapping_proposed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"],
            ["user_account.id"],
            name=op.f("fk_directory_mapping_decided_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_mapping")),
        sa.UniqueConstraint("version", name=op.f("uq_directory_mapping_version")),
    )
    op.create_index(op.f("ix_directory_mapping_state"), "directory_mapping", ["state"])


def downgrade() -> None:
    op.drop_index(op.f("ix_directory_mapping_state"), table_name="directory_mapping")
    op.drop_table("directory_mapping")
