"""totp enrolment and sms challenges; a phone number for the SMS factor

Revision ID: c7e0a11f0a02
Revises: 5a2b7c9d0e13
Create Date: 2026-11-24 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "c7e0a11f0a02"
down_revision = "5a2b7c9d0e13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("sms_phone", sa.String(length=32), nullable=True))
    op.create_table(
        "totp_enrolment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sealed", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("completed_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_totp_enrolment_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_totp_enrolment")),
    )
    op.create_index(op.f("ix_totp_enrolment_user_id"), "totp_enrolment", ["user_id"])
    op.create_table(
        "sms_challenge",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("code_sealed", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("sent_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_sms_challenge_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_challenge")),
    )
    op.create_index(op.f("ix_sms_challenge_user_id"), "sms_challenge", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_sms_challenge_user_id"), table_name="sms_challenge")
    op.drop_table("sms_challenge")
    op.drop_index(op.f("ix_totp_enrolment_user_id"), table_name="totp_enrolment")
    op.drop_table("totp_enrolment")
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("sms_phone")
