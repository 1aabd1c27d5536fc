"""audit nodes stored from level 4 up: smaller subtrees are hashed from their tile's leaves

Subtrees of fewer than 16 leaves are no longer stored (a proof hashes them from at most 16 leaf
hashes read with one range query); this cuts the stored nodes from ~1 to ~1/8 per entry.

Revision ID: 5a2b7c9d0e13
Revises: c6b5e1a2d3f4
Create Date: 2026-11-24 16:30:00
"""

from __future__ import annotations

from alembic import op

revision = "5a2b7c9d0e13"
down_revision = "c6b5e1a2d3f4"
branch_labels = None
depends_on = None

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_node_no_update",
    "DROP TRIGGER IF EXISTS audit_node_no_delete",
]
SQLITE_UP = [
    f"""CREATE TRIGGER audit_node_no_{verb} BEFORE {verb.upper()} ON audit_node
        BEGIN SELECT RAISE(ABORT, 'audit_node is append-only'); END"""
    for verb in ("update", "delete")
]
POSTGRES_DOWN = ["ALTER TABLE audit_node DISABLE TRIGGER audit_node_append_only"]
POSTGRES_UP = ["ALTER TABLE audit_node ENABLE TRIGGER audit_node_append_only"]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_DOWN if sqlite else POSTGRES_DOWN:
        op.execute(statement)
    op.execute("DELETE FROM audit_node WHERE level < 4")  # TILE_LEVEL in records.service
    for statement in SQLITE_UP if sqlite else POSTGRES_UP:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("the dropped small subtrees are re-derivable, but not by a downgrade")
