"""audit log as a Merkle tree: leaf hashes, stored nodes, subject streams, checkpoints

Replaces the single hash chain (prev_hash, hash) with RFC 9162 leaf hashes, the stored complete
subtrees (`audit_node`), a hash chain per subject (`stream_seq`, `stream_prev`, `audit_stream`) and
signed checkpoints (`audit_checkpoint`). Existing entries are re-derived into the new form. Entries,
nodes and checkpoints are append-only in the database.

Revision ID: 5a1e0c7d9b21
Revises: 7b01a2c3d4e5
Create Date: 2026-11-24 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import dealchat.db.base
from dealchat.records import merkle
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, entry_leaf_hash

revision = "5a1e0c7d9b21"
down_revision = "7b01a2c3d4e5"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_entry", "audit_node", "audit_checkpoint")

OLD_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
]
OLD_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS audit_entry_no_truncate ON audit_entry",
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    "DROP FUNCTION IF EXISTS audit_entry_append_only()",
]
SQLITE_UP = [
    f"""CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
    for table in APPEND_ONLY
    for verb in ("update", "delete")
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_no_{verb}"
    for table in APPEND_ONLY
    for verb in ("update", "delete")
]
POSTGRES_UP = [
    """CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""",
] + [
    statement
    for table in APPEND_ONLY
    for statement in (
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_append_only()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()""",
    )
]
POSTGRES_DOWN = [
    statement
    for table in APPEND_ONLY
    for statement in (
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
    )
] + ["DROP FUNCTION IF EXISTS audit_append_only()"]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _create_tables() -> None:
    op.create_table(
        "audit_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", SEQ, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_node")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "audit_stream",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("last", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("subject", name=op.f("pk_audit_stream")),
    )
    op.create_table(
        "audit_checkpoint",
        sa.Column("size", SEQ, autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(length=32), nullable=False),
        sa.Column("at", dealchat.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_audit_checkpoint")),
    )


def upgrade() -> None:
    _run(OLD_SQLITE_DOWN if _sqlite() else OLD_POSTGRES_DOWN)
    _create_tables()
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("stream_seq", SEQ, nullable=True))
        batch.add_column(sa.Column("stream_prev", sa.LargeBinary(length=32), nullable=True))
        batch.add_column(sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("root", sa.LargeBinary(length=32), nullable=True))
        batch.add_column(sa.Column("frontier", sa.LargeBinary(), nullable=True))
    _rederive()
    with op.batch_alter_table("audit_entry") as batch:
        for name in ("stream_seq", "stream_prev", "leaf_hash"):
            batch.alter_column(name, nullable=False)
        batch.drop_column("prev_hash")
        batch.drop_column("hash")
    with op.batch_alter_table("audit_head") as batch:
        batch.alter_column("root", nullable=False)
        batch.alter_column("frontier", nullable=False)
        batch.drop_column("hash")
    _run(SQLITE_UP if _sqlite() else POSTGRES_UP)


_entry = sa.table(
    "audit_entry",
    sa.column("at", dealchat.db.base.UtcDateTime()),
    *(sa.column(name) for name in ("seq", "event", "actor", "subject", "payload")),
    sa.column("stream_seq"),
    sa.column("stream_prev"),
    sa.column("leaf_hash"),
)


def _rederive() -> None:
    """Every existing entry becomes a leaf of the tree and a link of its subject's stream."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_entry.c.seq, _entry.c.at, _entry.c.event, _entry.c.actor)
        .add_columns(_entry.c.subject, _entry.c.payload)
        .order_by(_entry.c.seq)
    ).all()
    frontier: list[bytes] = []
    streams: dict[str, tuple[int, bytes]] = {}
    nodes: list[dict[str, object]] = []
    for size, (seq, at, event, actor, subject, payload) in enumerate(rows):
        stream_seq, prev = streams.get(subject, (0, STREAM_GENESIS))
        fields = LeafFields(seq, at, event, actor, subject, payload, stream_seq + 1, prev)
        leaf = entry_leaf_hash(fields)
        bind.execute(
            sa.update(_entry)
            .where(_entry.c.seq == seq)
            .values(stream_seq=stream_seq + 1, stream_prev=prev, leaf_hash=leaf)
        )
        streams[subject] = (stream_seq + 1, leaf)
        frontier, created = merkle.append_leaf(frontier, size, leaf)
        nodes.extend({"level": lv, "idx": ix, "hash": h} for lv, ix, h in created if lv)
    node = sa.table("audit_node", sa.column("level"), sa.column("idx"), sa.column("hash"))
    stream = sa.table("audit_stream", sa.column("subject"), sa.column("seq"), sa.column("last"))
    if nodes:
        bind.execute(sa.insert(node), nodes)
    if streams:
        bind.execute(
            sa.insert(stream),
            [{"subject": s, "seq": n, "last": last} for s, (n, last) in streams.items()],
        )
    head = sa.table("audit_head", sa.column("id"), sa.column("root"), sa.column("frontier"))
    bind.execute(
        sa.update(head)
        .where(head.c.id == 1)
        .values(root=merkle.fold(frontier), frontier=b"".join(frontier))
    )


def downgrade() -> None:
    raise NotImplementedError("the Merkle log cannot be turned back into the old single chain")
