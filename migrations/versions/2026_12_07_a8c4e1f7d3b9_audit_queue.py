"""the audit queue (`audit_queue`): entries a transaction recorded while another placed the tree

A transaction that records entries places them in the tree at its commit when no other
transaction is doing so (PostgreSQL advisory lock, tried without waiting); otherwise it leaves
them here, in the same transaction as the change they record, and the next placer takes them in
`id` order. Rows are only inserted and deleted (by the placer): never updated.

Revision ID: a8c4e1f7d3b9
Revises: b5e1f7a3c9d2
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a8c4e1f7d3b9"
down_revision = "b5e1f7a3c9d2"
branch_labels = None
depends_on = None

SQLITE_UP = [
    """CREATE TRIGGER audit_queue_no_update BEFORE UPDATE ON audit_queue
        BEGIN SELECT RAISE(ABORT, 'audit_queue rows are never changed'); END"""
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS audit_queue_no_update"]
POSTGRES_UP = [
    """CREATE FUNCTION audit_queue_no_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% rows are never changed', TG_TABLE_NAME; END $$""",
    """CREATE TRIGGER audit_queue_no_update BEFORE UPDATE ON audit_queue
        FOR EACH ROW EXECUTE FUNCTION audit_queue_no_update()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_queue_no_update ON audit_queue",
    "DROP FUNCTION IF EXISTS audit_queue_no_update()",
]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "audit_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
    )
    for statement in SQLITE_UP if _sqlite() else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    for statement in SQLITE_DOWN if _sqlite() else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table("audit_queue")
