"""Rate-limit windows and seen replay proofs in the database, shared by every process and node:
rate_window and seen_proof.

Revision ID: a6c4e8f1d2b7
Revises: a8c4e1f7d3b9
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "a6c4e8f1d2b7"
down_revision = "a8c4e1f7d3b9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_window",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", "key", "started", name=op.f("pk_rate_window")),
    )
    op.create_table(
        "seen_proof",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("until", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "digest", name=op.f("pk_seen_proof")),
    )
    op.create_index(op.f("ix_seen_proof_until"), "seen_proof", ["until"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_seen_proof_until"), table_name="seen_proof")
    op.drop_table("seen_proof")
    op.drop_table("rate_window")
