"""federation: accounts at the OpenID provider keyed by (issuer, subject); logins in flight

Revision ID: e8a4c6d0f2b5
Revises: d2f5b7c9e1a3
Create Date: 2026-11-24 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "e8a4c6d0f2b5"
down_revision = "d2f5b7c9e1a3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federated_identity",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_login_at", UtcDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_federated_identity_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_identity")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_federated_identity_issuer_subject")),
    )
    op.create_index(op.f("ix_federated_identity_user_id"), "federated_identity", ["user_id"])
    op.create_table(
        "oidc_login",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("verifier_sealed", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_login")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oidc_login_state_hash")),
    )


def downgrade() -> None:
    op.drop_table("oidc_login")
    op.drop_index(op.f("ix_federated_identity_user_id"), table_name="federated_identity")
    op.drop_table("federated_identity")
