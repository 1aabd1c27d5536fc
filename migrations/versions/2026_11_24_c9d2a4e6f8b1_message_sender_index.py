"""an index on `message.sender_id`

Retention deletes a chat identity only when no kept message is from its handle: without the index
each idle identity meant a scan of every message (SQLite plans a nested loop).

Revision ID: c9d2a4e6f8b1
Revises: b4e1c8d2f6a7
Create Date: 2026-11-24 23:40:00
"""

from __future__ import annotations

from alembic import op

revision = "c9d2a4e6f8b1"
down_revision = "b4e1c8d2f6a7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_message_sender_id", "message", ["sender_id"])


def downgrade() -> None:
    op.drop_index("ix_message_sender_id", table_name="message")
