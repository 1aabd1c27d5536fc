"""The Merkle migration re-derives a log written in the old single-chain form, on both databases."""

from __future__ import annotations

import datetime as dt

from alembic import command
from sqlalchemy import column, insert, select, table, text

from dealchat.db.base import UtcDateTime
from dealchat.db.migrate import alembic_config
from dealchat.db.session import make_engine, make_session_factory, unit_of_work
from dealchat.records import merkle
from dealchat.records.models import AuditEntry
from dealchat.records.service import inclusion_proof, root_at, verify

BEFORE = "7b01a2c3d4e5"  # the revision the Merkle migration follows


def test_old_chain_entries_become_leaves_and_stream_links(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        config = alembic_config(engine)
        command.upgrade(config, BEFORE)
        at = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
        old = table(
            "audit_entry",
            column("at", UtcDateTime()),
            *(column(name) for name in ("seq", "event", "actor", "subject", "payload")),
            column("prev_hash"),
            column("hash"),
        )
        with engine.begin() as connection:
            connection.execute(
                insert(old),
                [
                    {"seq": seq, "at": at, "event": "message:received", "actor": "client",
                     "subject": f"conversation:c{seq % 3}", "payload": "{}",
                     "prev_hash": "0" * 64, "hash": f"{seq:064x}"}
                    for seq in range(1, 41)
                ],
            )  # fmt: skip
            connection.execute(text("UPDATE audit_head SET seq = 40"))
        command.upgrade(config, "head")
        with unit_of_work(make_session_factory(engine)) as session:
            assert verify(session).ok
            leaves = [bytes(h) for h in session.scalars(select(AuditEntry.leaf_hash))]
            tree = merkle.MemoryTree(leaves)
            assert root_at(session, 40) == tree.root()
            assert inclusion_proof(session, 17).path == tree.inclusion_proof(16)
            streams = session.scalars(
                select(AuditEntry.stream_seq).where(AuditEntry.subject == "conversation:c1")
            ).all()
            assert list(streams) == list(range(1, 15))
    finally:
        engine.dispose()
