"""client_order: the chat order language v2 fields

Product (outright, swap, ndf), a swap's far leg, the value and fixing dates a swap or NDF ticket
reads back, stop price, time in force with its expiry date, and when the ticket was last amended.

Revision ID: a7d3f9e2b6c4
Revises: d7a3c1e9b5f2
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "a7d3f9e2b6c4"
down_revision = "d7a3c1e9b5f2"
branch_labels = None
depends_on = None

_COLUMNS = (
    "product",
    "far_tenor",
    "value_date",
    "far_value_date",
    "fixing_date",
    "stop_price",
    "time_in_force",
    "expire_date",
    "amended_at",
)


def upgrade() -> None:
    with op.batch_alter_table("client_order") as batch:
        batch.add_column(
            sa.Column("product", sa.String(length=8), server_default="outright", nullable=False)
        )
        batch.add_column(sa.Column("far_tenor", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("value_date", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("far_value_date", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("fixing_date", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("stop_price", sa.Numeric(precision=28, scale=10), nullable=True))
        batch.add_column(sa.Column("time_in_force", sa.String(length=3), nullable=True))
        batch.add_column(sa.Column("expire_date", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("amended_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("client_order") as batch:
        for column in reversed(_COLUMNS):
            batch.drop_column(column)
