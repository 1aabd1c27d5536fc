"""trusted networks: CIDR ranges that waive the second factor for internal users

Revision ID: d2f5b7c9e1a3
Revises: c7e0a11f0a02
Create Date: 2026-11-24 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "d2f5b7c9e1a3"
down_revision = "c7e0a11f0a02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_network",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("cidr", sa.String(length=43), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_network")),
        sa.UniqueConstraint("cidr", name=op.f("uq_trusted_network_cidr")),
    )


def downgrade() -> None:
    op.drop_table("trusted_network")
