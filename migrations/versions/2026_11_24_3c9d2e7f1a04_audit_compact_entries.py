"""audit entries stored compactly: `at` in microseconds, the stream link as a seq, fewer indexes

`audit_entry.at` becomes an integer (microseconds since the epoch, UTC): the same instant, so every
leaf still commits to the same bytes. `stream_prev` (a 32-byte copy of the stream's previous leaf
hash) becomes `prev_seq`, the number of that entry, whose `leaf_hash` it is; `audit_stream` gains
`last_entry`, where the chain of a subject's entries starts. The indexes on `event` and `subject`
go (streams are read along their links); a partial index keeps access decisions by event.

The upgrade refuses a log whose stored `stream_prev` is not its stream's previous leaf hash (run
`dealchat audit verify`): nothing that verification could notice is dropped.

Revision ID: 3c9d2e7f1a04
Revises: e113ac4beb34
Create Date: 2026-11-24 20:40:00
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op

import dealchat.db.base
from dealchat.db.base import from_micros, to_micros
from dealchat.records.leaf import STREAM_GENESIS

revision = "3c9d2e7f1a04"
down_revision = "e113ac4beb34"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
DECISIONS = sa.text("event IN ('access:allowed', 'access:denied')")
_BATCH = 5000

SQLITE_OFF = [
    "DROP TRIGGER IF EXISTS audit_entry_no_update",
    "DROP TRIGGER IF EXISTS audit_entry_no_delete",
]
SQLITE_ON = [
    f"""CREATE TRIGGER audit_entry_no_{verb} BEFORE {verb.upper()} ON audit_entry
        BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END"""
    for verb in ("update", "delete")
]
POSTGRES_OFF = ["ALTER TABLE audit_entry DISABLE TRIGGER audit_entry_append_only"]
POSTGRES_ON = ["ALTER TABLE audit_entry ENABLE TRIGGER audit_entry_append_only"]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


_entry = sa.table(
    "audit_entry",
    sa.column("seq"),
    sa.column("subject"),
    sa.column("at", dealchat.db.base.UtcDateTime()),
    sa.column("at_us"),
    sa.column("stream_prev"),
    sa.column("prev_seq"),
    sa.column("leaf_hash"),
)
_stream = sa.table("audit_stream", sa.column("subject"), sa.column("last_entry"))


def _pages(columns: list[sa.ColumnClause[object]]) -> Iterator[sa.Row[tuple[object, ...]]]:
    bind, after = op.get_bind(), 0
    while True:
        page = bind.execute(
            sa.select(*columns).where(_entry.c.seq > after).order_by(_entry.c.seq).limit(_BATCH)
        ).all()
        yield from page
        if len(page) < _BATCH:
            return
        after = page[-1].seq


def _convert_up() -> dict[str, int]:
    """Fill at_us and prev_seq; check each stored stream_prev against the link that replaces it."""
    bind = op.get_bind()
    last: dict[str, tuple[int, bytes]] = {}
    changes: list[dict[str, object]] = []
    columns = [_entry.c[name] for name in ("seq", "subject", "at", "stream_prev", "leaf_hash")]
    for seq, subject, at, stream_prev, leaf in _pages(columns):
        prev_seq, prev_leaf = last.get(subject, (0, STREAM_GENESIS))
        if bytes(stream_prev) != prev_leaf:
            raise RuntimeError(
                f"audit entry {seq} does not link to its stream's previous entry: "
                "run `dealchat audit verify` before upgrading"
            )
        changes.append({"key": seq, "at_us": to_micros(at), "prev_seq": prev_seq})
        last[subject] = (seq, bytes(leaf))
        if len(changes) >= _BATCH:
            _update(bind, changes, ("at_us", "prev_seq"))
    _update(bind, changes, ("at_us", "prev_seq"))
    return {subject: seq for subject, (seq, _leaf) in last.items()}


def _update(bind: sa.Connection, changes: list[dict[str, object]], names: tuple[str, ...]) -> None:
    if changes:
        bind.execute(
            sa.update(_entry)
            .where(_entry.c.seq == sa.bindparam("key"))
            .values({name: sa.bindparam(name) for name in names}),
            changes,
        )
        changes.clear()


def upgrade() -> None:
    _run(SQLITE_OFF if _sqlite() else POSTGRES_OFF)
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(sa.Column("at_us", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_seq", SEQ, nullable=True))
    with op.batch_alter_table("audit_stream") as batch:
        batch.add_column(sa.Column("last_entry", SEQ, nullable=True))
    heads = _convert_up()
    if heads:
        op.get_bind().execute(
            sa.update(_stream)
            .where(_stream.c.subject == sa.bindparam("key"))
            .values(last_entry=sa.bindparam("last_entry")),
            [{"key": subject, "last_entry": seq} for subject, seq in heads.items()],
        )
    with op.batch_alter_table("audit_stream") as batch:
        batch.alter_column("last_entry", existing_type=SEQ, nullable=False)
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_index("ix_audit_entry_event")
        batch.drop_index("ix_audit_entry_subject")
        batch.drop_column("stream_prev")
        batch.drop_column("at")
        batch.alter_column(
            "at_us", new_column_name="at", existing_type=sa.BigInteger(), nullable=False
        )
        batch.alter_column("prev_seq", existing_type=SEQ, nullable=False)
    op.create_index(
        "ix_audit_entry_access",
        "audit_entry",
        ["event"],
        sqlite_where=DECISIONS,
        postgresql_where=DECISIONS,
    )
    _run(SQLITE_ON if _sqlite() else POSTGRES_ON)


def _convert_down() -> None:
    bind = op.get_bind()
    leaves: dict[int, bytes] = {}
    changes: list[dict[str, object]] = []
    columns = [_entry.c[name] for name in ("seq", "at_us", "prev_seq", "leaf_hash")]
    for seq, at_us, prev_seq, leaf in _pages(columns):
        leaves[seq] = bytes(leaf)
        previous = leaves.pop(prev_seq) if prev_seq else STREAM_GENESIS
        changes.append({"key": seq, "at": from_micros(at_us), "stream_prev": previous})
        if len(changes) >= _BATCH:
            _update(bind, changes, ("at", "stream_prev"))
    _update(bind, changes, ("at", "stream_prev"))


def downgrade() -> None:
    _run(SQLITE_OFF if _sqlite() else POSTGRES_OFF)
    op.drop_index("ix_audit_entry_access", table_name="audit_entry")
    with op.batch_alter_table("audit_entry") as batch:
        batch.alter_column("at", new_column_name="at_us", existing_type=sa.BigInteger())
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(
            sa.Column("at", dealchat.db.base.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("stream_prev", sa.LargeBinary(length=32), nullable=True))
    _convert_down()
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("at_us")
        batch.drop_column("prev_seq")
        batch.alter_column(
            "at", existing_type=dealchat.db.base.UtcDateTime(timezone=True), nullable=False
        )
        batch.alter_column("stream_prev", existing_type=sa.LargeBinary(length=32), nullable=False)
        batch.create_index("ix_audit_entry_event", ["event"])
        batch.create_index("ix_audit_entry_subject", ["subject"])
    with op.batch_alter_table("audit_stream") as batch:
        batch.drop_column("last_entry")
    _run(SQLITE_ON if _sqlite() else POSTGRES_ON)
