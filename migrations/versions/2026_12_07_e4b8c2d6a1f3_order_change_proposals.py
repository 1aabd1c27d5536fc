"""Changes of working orders awaiting the client's approval: the order_change_proposal table.

Revision ID: e4b8c2d6a1f3
Revises: 5a1e0c3b9d27
Create Date: 2026-12-07 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "e4b8c2d6a1f3"
down_revision = "5a1e0c3b9d27"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_change_proposal",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("limit_price", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["client_order.id"],
            name=op.f("fk_order_change_proposal_order_id_client_order"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_change_proposal")),
    )
    with op.batch_alter_table("order_change_proposal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_change_proposal_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_change_proposal_ticket_hash"), ["ticket_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_change_proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_change_proposal_ticket_hash"))
        batch_op.drop_index(batch_op.f("ix_order_change_proposal_order_id"))
    op.drop_table("order_change_proposal")
