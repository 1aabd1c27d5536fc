"""The compact-entries migration keeps every leaf's bytes: `at` to microseconds and `stream_prev`
to `prev_seq` and back, on both databases; it refuses a log whose stream links are broken."""

from __future__ import annotations

import datetime as dt

import pytest
from alembic import command
from sqlalchemy import Engine, column, insert, select, table, text

from dealchat.db.base import UtcDateTime
from dealchat.db.migrate import alembic_config
from dealchat.db.session import make_engine, make_session_factory, unit_of_work
from dealchat.records import merkle
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, entry_leaf_hash
from dealchat.records.service import inclusion_proof, root_at, stream_entries, verify

BEFORE = "e113ac4beb34"  # the revision the compact-entries migration follows
AFTER = "3c9d2e7f1a04"
START = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)

_old_entry = table(
    "audit_entry",
    column("at", UtcDateTime()),
    *(column(name) for name in ("seq", "event", "actor", "subject", "payload", "stream_seq")),
    column("stream_prev"),
    column("leaf_hash"),
)


def _old_log(count: int) -> list[LeafFields]:
    """Entries as the old schema held them: times with and without microseconds."""
    fields, streams = [], {}
    for seq in range(1, count + 1):
        subject = f"conversation:c{seq % 3}"
        number, prev = streams.get(subject, (0, STREAM_GENESIS))
        at = START + dt.timedelta(seconds=seq, microseconds=0 if seq % 2 else seq * 7)
        entry = LeafFields(seq, at, "message:received", "client", subject, f'{{"n":{seq}}}',
                           number + 1, prev)  # fmt: skip
        streams[subject] = (number + 1, entry_leaf_hash(entry))
        fields.append(entry)
    return fields


def _write_old(engine: Engine, fields: list[LeafFields]) -> None:
    leaves = [entry_leaf_hash(entry) for entry in fields]
    tree = merkle.MemoryTree(leaves)
    nodes = [
        {"level": level, "idx": index, "hash": value}
        for level in range(4, len(tree.levels))
        for index, value in enumerate(tree.levels[level])
    ]
    heads: dict[str, dict[str, object]] = {}
    for entry, leaf in zip(fields, leaves, strict=True):
        heads[entry.subject] = {"subject": entry.subject, "seq": entry.stream_seq, "last": leaf}
    frontier = [tree.node(node) for node in merkle.range_nodes(0, tree.size)]
    with engine.begin() as connection:
        connection.execute(
            insert(_old_entry),
            [
                {**_as_row(entry), "leaf_hash": leaf}
                for entry, leaf in zip(fields, leaves, strict=True)
            ],
        )
        connection.execute(
            insert(table("audit_node", column("level"), column("idx"), column("hash"))), nodes
        )
        connection.execute(
            insert(table("audit_stream", column("subject"), column("seq"), column("last"))),
            list(heads.values()),
        )
        connection.execute(
            text("UPDATE audit_head SET seq = :seq, root = :root, frontier = :frontier"),
            {"seq": tree.size, "root": tree.root(), "frontier": b"".join(frontier)},
        )


def _as_row(entry: LeafFields) -> dict[str, object]:
    return {
        "seq": entry.seq, "at": entry.at, "event": entry.event, "actor": entry.actor,
        "subject": entry.subject, "payload": entry.payload, "stream_seq": entry.stream_seq,
        "stream_prev": entry.stream_prev,
    }  # fmt: skip


def test_entries_keep_their_leaves_through_upgrade_and_downgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, BEFORE)
        fields = _old_log(40)
        _write_old(engine, fields)
        command.upgrade(config, AFTER)
        with unit_of_work(make_session_factory(engine)) as session:
            assert verify(session).ok
            assert stream_entries(session, "conversation:c1") == [
                entry for entry in fields if entry.subject == "conversation:c1"
            ]
            tree = merkle.MemoryTree(entry_leaf_hash(entry) for entry in fields)
            assert root_at(session, 40) == tree.root()
            assert inclusion_proof(session, 23).path == tree.inclusion_proof(22)
        command.downgrade(config, BEFORE)
        with engine.connect() as connection:
            rows = connection.execute(select(_old_entry).order_by(_old_entry.c.seq)).all()
        assert [
            LeafFields(r.seq, r.at, r.event, r.actor, r.subject, r.payload, r.stream_seq,
                       bytes(r.stream_prev))
            for r in rows
        ] == fields  # fmt: skip
        command.upgrade(config, "head")
        with unit_of_work(make_session_factory(engine)) as session:
            assert verify(session).ok
    finally:
        engine.dispose()


def test_a_broken_stream_link_stops_the_upgrade(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, BEFORE)
        fields = _old_log(20)
        fields[6] = LeafFields(*[*list(_as_row(fields[6]).values())[:-1], bytes(32)])
        _write_old(engine, fields)
        with pytest.raises(RuntimeError, match="audit entry 7 does not link"):
            command.upgrade(config, AFTER)
    finally:
        engine.dispose()
