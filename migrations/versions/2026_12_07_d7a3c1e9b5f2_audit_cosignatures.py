"""witness cosignatures of the audit log's checkpoints (`audit_cosignature`), append-only

Revision ID: d7a3c1e9b5f2
Revises: c9d2a4e6f8b1
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base

revision = "d7a3c1e9b5f2"
down_revision = "c9d2a4e6f8b1"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Its own trigger function: the audit tables' `audit_append_only()` is dropped and re-created
# by other migrations and by the tamper tests, which must not take this table's triggers along.
SQLITE_UP = [
    f"""CREATE TRIGGER audit_cosignature_no_{verb} BEFORE {verb.upper()} ON audit_cosignature
        BEGIN SELECT RAISE(ABORT, 'audit_cosignature is append-only'); END"""
    for verb in ("update", "delete")
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS audit_cosignature_no_{verb}" for verb in ("update", "delete")
]
POSTGRES_UP = [
    """CREATE FUNCTION audit_cosignature_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""",
    """CREATE TRIGGER audit_cosignature_append_only BEFORE UPDATE OR DELETE ON audit_cosignature
        FOR EACH ROW EXECUTE FUNCTION audit_cosignature_append_only()""",
    """CREATE TRIGGER audit_cosignature_no_truncate BEFORE TRUNCATE ON audit_cosignature
        FOR EACH STATEMENT EXECUTE FUNCTION audit_cosignature_append_only()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_cosignature_no_truncate ON audit_cosignature",
    "DROP TRIGGER IF EXISTS audit_cosignature_append_only ON audit_cosignature",
    "DROP FUNCTION IF EXISTS audit_cosignature_append_only()",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "audit_cosignature",
        sa.Column("size", SEQ, autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_audit_cosignature")),
    )
    for statement in SQLITE_UP if _sqlite() else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DOWN if _sqlite() else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("audit_cosignature")
