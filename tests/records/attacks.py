"""What an attacker with write access to the database does to the audit log, for the tests: lift
the append-only triggers, then roll the log back consistently (entries, checkpoints, nodes, head
and streams all agree again, so the log re-derives cleanly on its own)."""

from __future__ import annotations

import importlib

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.records import merkle
from dealchat.records.leaf import LeafFields
from dealchat.records.models import (
    AuditCheckpoint,
    AuditCosignature,
    AuditEntry,
    AuditHead,
    AuditNode,
    AuditStream,
)
from dealchat.records.service import TILE_LEVEL

_MERKLE = importlib.import_module("migrations.versions.2026_11_24_5a1e0c7d9b21_audit_merkle_tree")
_COSIGNED = importlib.import_module(
    "migrations.versions.2026_12_07_d7a3c1e9b5f2_audit_cosignatures"
)


def lift_triggers(platform: Platform) -> None:
    """Someone with DDL rights drops the append-only triggers first."""
    sqlite = platform.engine.dialect.name == "sqlite"
    statements = (
        [*_MERKLE.SQLITE_DOWN, *_COSIGNED.SQLITE_DOWN]
        if sqlite
        else [*_MERKLE.POSTGRES_DOWN, *_COSIGNED.POSTGRES_DOWN]
    )
    with unit_of_work(platform.sessions) as session:
        for statement in statements:
            session.execute(text(statement))


def roll_back(session: Session, *, to: int) -> None:
    """Keep entries 1..`to` and make every derived row agree with them: delete the newer
    entries, the checkpoints and cosignatures over them and the nodes covering them, and
    recompute the head (size, root, right edge) and each stream's head."""
    session.execute(delete(AuditEntry).where(AuditEntry.seq > to))
    session.execute(delete(AuditCheckpoint).where(AuditCheckpoint.size > to))
    session.execute(delete(AuditCosignature).where(AuditCosignature.size > to))
    for level, idx in session.execute(select(AuditNode.level, AuditNode.idx)).all():
        if (idx + 1) << level > to:
            session.execute(delete(AuditNode).where(AuditNode.level == level, AuditNode.idx == idx))
    leaves = [
        bytes(h) for h in session.scalars(select(AuditEntry.leaf_hash).order_by(AuditEntry.seq))
    ]
    frontier: list[bytes] = []
    for index, leaf in enumerate(leaves):
        merkle.push_leaf(frontier, index, leaf, min_level=TILE_LEVEL)
    session.execute(
        update(AuditHead).values(seq=to, root=merkle.fold(frontier), frontier=b"".join(frontier))
    )
    session.execute(delete(AuditStream))
    heads: dict[str, tuple[int, bytes, int]] = {}
    for seq, subject, stream_seq, leaf in session.execute(
        select(
            AuditEntry.seq, AuditEntry.subject, AuditEntry.stream_seq, AuditEntry.leaf_hash
        ).order_by(AuditEntry.seq)
    ):
        heads[subject] = (stream_seq, bytes(leaf), seq)
    for subject, (stream_seq, leaf, seq) in heads.items():
        session.add(AuditStream(subject=subject, seq=stream_seq, last=leaf, last_entry=seq))
    session.flush()  # appends read the stream heads with plain SQL


def changed_fields(entry: AuditEntry, **changes: object) -> LeafFields:
    """What `entry`'s leaf commits to, with some fields changed (to rehash a forged entry)."""
    values = {
        "seq": entry.seq, "at": entry.at, "event": entry.event, "actor": entry.actor,
        "subject": entry.subject, "payload": entry.payload, "stream_seq": entry.stream_seq,
        "stream_prev": bytes(entry.stream_prev),
    }  # fmt: skip
    values.update(changes)
    return LeafFields(**values)  # type: ignore[arg-type]
