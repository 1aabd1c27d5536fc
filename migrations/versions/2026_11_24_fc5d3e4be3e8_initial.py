"""initial

Revision ID: fc5d3e4be3e8
Revises: (none)
Create Date: 2026-11-24 02:32:25.417642
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "fc5d3e4be3e8"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
    )
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_entry_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entry_subject"), ["subject"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The chain head starts at sequence 0 and the genesis hash; every append moves it forward.
    op.bulk_insert(
        sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash")),
        [{"id": 1, "seq": 0, "hash": "0" * 64}],
    )
    op.create_table(
        "conversation",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_conversation_channel_external_id")
        ),
    )
    op.create_table(
        "secure_link",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secure_link")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_secure_link_token_hash")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret_sealed", sa.String(length=255), nullable=True),
        sa.Column(
            "totp_last_step", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "chat_identity",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("authenticated_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_chat_identity_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_identity")),
        sa.UniqueConstraint(
            "channel", "external_id", name=op.f("uq_chat_identity_channel_external_id")
        ),
    )
    with op.batch_alter_table("chat_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_identity_user_id"), ["user_id"], unique=False)

    op.create_table(
        "message",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("channel_message_id", sa.String(length=128), nullable=True),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("reply_to_id", sa.String(length=32), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_message_conversation_id_conversation"),
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"], ["message.id"], name=op.f("fk_message_reply_to_id_message")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint(
            "conversation_id",
            "channel_message_id",
            name=op.f("uq_message_conversation_id_channel_message_id"),
        ),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_message_reply_to_id"), ["reply_to_id"], unique=False)

    op.create_table(
        "quote",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("pair", sa.String(length=7), nullable=True),
        sa.Column("isin", sa.String(length=12), nullable=True),
        sa.Column("dealt_currency", sa.String(length=3), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=28, scale=10), nullable=True),
        sa.Column("tenor", sa.String(length=10), nullable=True),
        sa.Column("bid", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("ask", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["user_account.id"], name=op.f("fk_quote_client_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_quote_conversation_id_conversation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote")),
    )
    with op.batch_alter_table("quote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quote_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_quote_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "stepup_proof",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("granted_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_stepup_proof_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stepup_proof")),
    )
    with op.batch_alter_table("stepup_proof", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stepup_proof_ticket_hash"), ["ticket_hash"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_stepup_proof_user_id"), ["user_id"], unique=False)

    op.create_table(
        "client_order",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("side", sa.String(length=4), nullable=False),
        sa.Column("pair", sa.String(length=7), nullable=True),
        sa.Column("isin", sa.String(length=12), nullable=True),
        sa.Column("dealt_currency", sa.String(length=3), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=28, scale=10), nullable=False),
        sa.Column("tenor", sa.String(length=10), nullable=True),
        sa.Column("order_type", sa.String(length=8), nullable=False),
        sa.Column("limit_price", sa.Numeric(precision=28, scale=10), nullable=True),
        sa.Column("counterparty", sa.String(length=16), nullable=True),
        sa.Column("quote_id", sa.String(length=32), nullable=True),
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("placed_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("filled_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("fill_price", sa.Numeric(precision=28, scale=10), nullable=True),
        sa.Column("fill_quantity", sa.Numeric(precision=28, scale=10), nullable=True),
        sa.Column("execution_id", sa.String(length=64), nullable=True),
        sa.Column("executed_by", sa.String(length=16), nullable=True),
        sa.Column("reject_reason", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["user_account.id"], name=op.f("fk_client_order_client_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_client_order_conversation_id_conversation"),
        ),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quote.id"], name=op.f("fk_client_order_quote_id_quote")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client_order")),
        sa.UniqueConstraint("ref", name=op.f("uq_client_order_ref")),
    )
    with op.batch_alter_table("client_order", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_order_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_client_order_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_client_order_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("client_order", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_order_state"))
        batch_op.drop_index(batch_op.f("ix_client_order_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_client_order_client_id"))

    op.drop_table("client_order")
    with op.batch_alter_table("stepup_proof", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stepup_proof_user_id"))
        batch_op.drop_index(batch_op.f("ix_stepup_proof_ticket_hash"))

    op.drop_table("stepup_proof")
    with op.batch_alter_table("quote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quote_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_quote_client_id"))

    op.drop_table("quote")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_reply_to_id"))
        batch_op.drop_index(batch_op.f("ix_message_conversation_id"))

    op.drop_table("message")
    with op.batch_alter_table("chat_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_identity_user_id"))

    op.drop_table("chat_identity")
    op.drop_table("user_account")
    op.drop_table("secure_link")
    op.drop_table("conversation")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entry_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_entry_event"))

    op.drop_table("audit_entry")
