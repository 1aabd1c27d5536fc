"""The language a secure link's page speaks: secure_link.language.

Revision ID: f2a9d4c7b3e1
Revises: e4b8c2d6a1f3
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f2a9d4c7b3e1"
down_revision = "e4b8c2d6a1f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("secure_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("secure_link", schema=None) as batch_op:
        batch_op.drop_column("language")
