"""saml: AuthnRequests in flight, seen assertion IDs (replay), IdP sessions for single logout

Revision ID: 5a1e0c3b9d27
Revises: ba32132d3bd1
Create Date: 2026-12-07 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dealchat.db.base import UtcDateTime

revision = "5a1e0c3b9d27"
down_revision = "ba32132d3bd1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saml_login",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("relay_state_hash", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=100), nullable=False),
        sa.Column("idp", sa.String(length=255), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_login")),
        sa.UniqueConstraint("relay_state_hash", name=op.f("uq_saml_login_relay_state_hash")),
    )
    op.create_table(
        "saml_assertion",
        sa.Column("assertion_hash", sa.String(length=64), nullable=False),
        sa.Column("idp", sa.String(length=255), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("assertion_hash", name=op.f("pk_saml_assertion")),
    )
    op.create_table(
        "saml_session",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("auth_session_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("idp", sa.String(length=255), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("name_id_sealed", sa.String(length=600), nullable=False),
        sa.Column("session_index", sa.String(length=255), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_saml_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saml_session")),
    )
    op.create_index(op.f("ix_saml_session_auth_session_id"), "saml_session", ["auth_session_id"])
    op.create_index(op.f("ix_saml_session_user_id"), "saml_session", ["user_id"])
    op.create_index(op.f("ix_saml_session_subject_hash"), "saml_session", ["subject_hash"])


def downgrade() -> None:
    for name in ("subject_hash", "user_id", "auth_session_id"):
        op.drop_index(op.f(f"ix_saml_session_{name}"), table_name="saml_session")
    op.drop_table("saml_session")
    op.drop_table("saml_assertion")
    op.drop_table("saml_login")
