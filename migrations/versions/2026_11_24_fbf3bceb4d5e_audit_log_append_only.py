"""audit log append only

The database itself refuses UPDATE and DELETE on audit_entry: the application never changes an
entry, and anyone who gets round this (with DDL rights) is still caught by `dealchat audit verify`.

Revision ID: fbf3bceb4d5e
Revises: fc5d3e4be3e8
Create Date: 2026-11-24 02:50:00
"""

from __future__ import annotations

from alembic import op

revision = "fbf3bceb4d5e"
down_revision = "fc5d3e4be3e8"
branch_labels = None
depends_on = None

MESSAGE = "audit_entry is append-only"

SQLITE_UP = [
    f"""CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
]
POSTGRES_UP = [
    f"""CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{MESSAGE}'; END $$""",
    """CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
        FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""",
    """CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry",
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    "DROP FUNCTION IF EXISTS audit_entry_append_only()",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _run(SQLITE_UP if sqlite else POSTGRES_UP)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    _run(SQLITE_DOWN if sqlite else POSTGRES_DOWN)
