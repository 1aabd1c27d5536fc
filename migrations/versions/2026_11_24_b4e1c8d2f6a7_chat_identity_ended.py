"""chat identities keep their row when their chat session ends: `chat_identity.ended_at`

A new password or authenticator used to delete the user's chat identities, so a legal hold on the
client no longer found the conversations she wrote in through them. The session now ends with
`ended_at` set; `dealchat retention run` deletes the row once nothing needs it.

Revision ID: b4e1c8d2f6a7
Revises: 3c9d2e7f1a04
Create Date: 2026-11-24 23:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "b4e1c8d2f6a7"
down_revision = "3c9d2e7f1a04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_identity") as batch:
        batch.add_column(sa.Column("ended_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_identity") as batch:
        batch.drop_column("ended_at")
