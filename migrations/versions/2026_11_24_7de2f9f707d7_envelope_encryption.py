"""envelope encryption: data keys, and message bodies stored only sealed

Existing rows keep their plaintext `text` (nullable now); new rows carry `body` (nonce and
AES-GCM ciphertext) under `data_key_id`.

Revision ID: 7de2f9f707d7
Revises: a1c3e5f7b9d2
Create Date: 2026-11-24 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "7de2f9f707d7"
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_key",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("kek_id", sa.String(length=64), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_key")),
    )
    op.create_index(op.f("ix_data_key_scope"), "data_key", ["scope"], unique=False)
    with op.batch_alter_table("message") as batch:
        batch.alter_column("text", existing_type=sa.Text(), nullable=True)
        batch.add_column(sa.Column("body", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("data_key_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            "fk_message_data_key_id_data_key", "data_key", ["data_key_id"], ["id"]
        )
        batch.create_index("ix_message_data_key_id", ["data_key_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        batch.drop_index("ix_message_data_key_id")
        batch.drop_constraint("fk_message_data_key_id_data_key", type_="foreignkey")
        batch.drop_column("data_key_id")
        batch.drop_column("body")
        batch.alter_column("text", existing_type=sa.Text(), nullable=False)
    op.drop_index(op.f("ix_data_key_scope"), table_name="data_key")
    op.drop_table("data_key")
