"""user attributes: desk, region, client book and relationship manager

Revision ID: a1c3e5f7b9d2
Revises: fbf3bceb4d5e
Create Date: 2026-11-24 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a1c3e5f7b9d2"
down_revision = "fbf3bceb4d5e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("desk", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("region", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("client_book", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("owner_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_user_account_owner_id_user_account", "user_account", ["owner_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_constraint("fk_user_account_owner_id_user_account", type_="foreignkey")
        batch.drop_column("owner_id")
        batch.drop_column("client_book")
        batch.drop_column("region")
        batch.drop_column("desk")
