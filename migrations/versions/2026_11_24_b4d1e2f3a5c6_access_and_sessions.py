"""access and sessions: roles, grants, assignments, console sessions and API tokens

Revision ID: b4d1e2f3a5c6
Revises: 7de2f9f707d7
Create Date: 2026-11-24 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "b4d1e2f3a5c6"
down_revision = "7de2f9f707d7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_role",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_role")),
        sa.UniqueConstraint("name", name=op.f("uq_access_role_name")),
    )
    op.create_table(
        "access_assignment",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["access_role.id"], name=op.f("fk_access_assignment_role_id_access_role")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_access_assignment_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_assignment")),
        sa.UniqueConstraint(
            "role_id", "user_id", name=op.f("uq_access_assignment_role_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_access_assignment_role_id"), "access_assignment", ["role_id"], unique=False
    )
    op.create_index(
        op.f("ix_access_assignment_user_id"), "access_assignment", ["user_id"], unique=False
    )
    op.create_table(
        "access_grant",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("role_id", sa.String(length=32), nullable=False),
        sa.Column("right", sa.String(length=64), nullable=False),
        sa.Column("conditions", sa.Text(), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["access_role.id"], name=op.f("fk_access_grant_role_id_access_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grant")),
        sa.UniqueConstraint(
            "role_id", "right", "conditions", name=op.f("uq_access_grant_role_id_right_conditions")
        ),
    )
    op.create_index(op.f("ix_access_grant_role_id"), "access_grant", ["role_id"], unique=False)
    op.create_table(
        "api_token",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("authenticated_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_api_token_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"], unique=False)
    op.create_table(
        "auth_session",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("factors", sa.String(length=64), nullable=False),
        sa.Column("source_ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("authenticated_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoke_reason", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_auth_session_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_auth_session_token_hash")),
    )
    op.create_index(op.f("ix_auth_session_user_id"), "auth_session", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_auth_session_user_id"), table_name="auth_session")
    op.drop_table("auth_session")
    op.drop_index(op.f("ix_api_token_user_id"), table_name="api_token")
    op.drop_table("api_token")
    op.drop_index(op.f("ix_access_grant_role_id"), table_name="access_grant")
    op.drop_table("access_grant")
    op.drop_index(op.f("ix_access_assignment_user_id"), table_name="access_assignment")
    op.drop_index(op.f("ix_access_assignment_role_id"), table_name="access_assignment")
    op.drop_table("access_assignment")
    op.drop_table("access_role")
