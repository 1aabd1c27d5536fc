"""Append to the audit log, prove what it holds, verify it. Appends join the caller's transaction.

Each entry is a leaf of an RFC 9162 Merkle tree (`records.merkle`) and the next link of its
subject's stream (`records.leaf`). An append locks the one head row, so appends never interleave;
it writes the entry, the complete subtrees the entry completes (`audit_node`), the stream's new head
and the tree's new size, root and right edge, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from dealchat.db.base import utcnow
from dealchat.records import merkle
from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent
from dealchat.records.hooks import run_after_record
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, Recorded, entry_leaf_hash
from dealchat.records.models import AuditCheckpoint, AuditEntry, AuditHead, AuditNode, AuditStream
from dealchat.records.notes import Keyring


@dataclass(frozen=True)
class NewEntry:
    event: AuditEvent
    actor: str
    subject: str
    payload: dict[str, Any]


def record(
    session: Session, *, event: AuditEvent, actor: str, subject: str, payload: dict[str, Any]
) -> AuditEntry:
    """Append one entry as the next leaf of the tree and the next link of its subject's stream."""
    done = append(session, entries=[NewEntry(event, actor, subject, payload)])[0]
    return AuditEntry(**{key: getattr(done, key) for key in _ENTRY_KEYS})


def append(session: Session, *, entries: Sequence[NewEntry]) -> list[Recorded]:
    """Append entries in order, in one go (the batched path; `record` is a batch of one)."""
    if not entries:
        return []
    size, frontier = _lock_head(session, len(entries))
    subjects = {item.subject for item in entries}
    known = _stream_heads(session, subjects)
    streams = dict(known)
    at = utcnow()
    rows: list[Recorded] = []
    nodes: list[dict[str, Any]] = []
    for offset, item in enumerate(entries):
        stream_seq, stream_prev = streams.get(item.subject, (0, STREAM_GENESIS))
        seq, event, payload = size + offset + 1, item.event.value, canonical_json(item.payload)
        fields = LeafFields(
            seq, at, event, item.actor, item.subject, payload, stream_seq + 1, stream_prev
        )
        leaf = entry_leaf_hash(fields)
        rows.append(
            Recorded(
                seq, at, event, item.actor, item.subject, payload, stream_seq + 1, stream_prev, leaf
            )
        )
        streams[item.subject] = (stream_seq + 1, leaf)
        frontier, created = merkle.append_leaf(frontier, size + offset, leaf)
        nodes.extend(
            {"level": lv, "idx": ix, "hash": h} for lv, ix, h in created if lv >= TILE_LEVEL
        )
    connection = session.connection()
    connection.execute(insert(ENTRY), [_columns(row) for row in rows])
    if nodes:
        connection.execute(insert(NODE), nodes)
    _save_streams(connection, streams, subjects=subjects, known=set(known))
    connection.execute(
        update(HEAD)
        .where(HEAD.c.id == 1)
        .values(root=merkle.fold(frontier), frontier=b"".join(frontier))
    )
    run_after_record(session, rows)
    return rows


# Complete subtrees of 2**TILE_LEVEL leaves or more are stored; smaller ones are hashed from their
# tile's leaves when a proof needs them (at most 16 leaf hashes read per tile).
TILE_LEVEL = 4

# Core tables for the hot paths (appends, proofs, verification): no ORM unit of work per row.
ENTRY = cast(Table, AuditEntry.__table__)
NODE = cast(Table, AuditNode.__table__)
HEAD = cast(Table, AuditHead.__table__)
STREAM = cast(Table, AuditStream.__table__)
_ENTRY_KEYS = tuple(column.key for column in ENTRY.columns)


def _columns(row: Recorded) -> dict[str, Any]:
    return {key: getattr(row, key) for key in _ENTRY_KEYS}


def _lock_head(session: Session, count: int) -> tuple[int, list[bytes]]:
    """Bump the head's size first: it takes the row lock (PostgreSQL) or write lock (SQLite)."""
    connection = session.connection()
    bumped = connection.execute(update(HEAD).where(HEAD.c.id == 1).values(seq=HEAD.c.seq + count))
    if bumped.rowcount == 0:
        raise RuntimeError("audit log head missing: database not migrated, or tampered with")
    seq, frontier = connection.execute(
        select(HEAD.c.seq, HEAD.c.frontier).where(HEAD.c.id == 1)
    ).one()
    return int(seq) - count, split_hashes(bytes(frontier))


def lock_log(session: Session) -> None:
    """Take the log's lock now (the head row on PostgreSQL; SQLite's write lock is already held
    from BEGIN IMMEDIATE). A writer that locks other rows before appending (a data key it seals
    under) takes this first, so every transaction locks the head before them: no deadlock."""
    session.connection().execute(select(HEAD.c.id).where(HEAD.c.id == 1).with_for_update())


def split_hashes(packed: bytes) -> list[bytes]:
    size = merkle.HASH_SIZE
    return [packed[i : i + size] for i in range(0, len(packed), size)]


def _stream_heads(session: Session, subjects: set[str]) -> dict[str, tuple[int, bytes]]:
    found = session.connection().execute(
        select(STREAM.c.subject, STREAM.c.seq, STREAM.c.last).where(STREAM.c.subject.in_(subjects))
    )
    return {subject: (int(seq), bytes(last)) for subject, seq, last in found}


def _save_streams(
    connection: Connection,
    streams: dict[str, tuple[int, bytes]],
    *,
    subjects: set[str],
    known: set[str],
) -> None:
    fresh = [{"subject": s, "seq": streams[s][0], "last": streams[s][1]} for s in subjects - known]
    if fresh:
        connection.execute(insert(STREAM), fresh)
    moved = [
        {"key": s, "new_seq": streams[s][0], "new_last": streams[s][1]} for s in subjects & known
    ]
    if moved:
        connection.execute(
            update(STREAM)
            .where(STREAM.c.subject == bindparam("key"))
            .values(seq=bindparam("new_seq"), last=bindparam("new_last")),
            moved,
        )


class Identified(Protocol):
    @property
    def id(self) -> str: ...


def record_new(
    session: Session,
    row: Identified,
    *,
    event: AuditEvent,
    actor: str,
    kind: str,
    payload: dict[str, Any],
) -> AuditEntry:
    """Insert `row` and audit its creation as `kind:<id>`, in the same transaction."""
    session.add(row)
    session.flush()
    return record(session, event=event, actor=actor, subject=f"{kind}:{row.id}", payload=payload)


# ---- the tree as stored: size, roots and proofs in O(log n) reads ----


def tree_size(session: Session) -> int:
    size = session.connection().exec_driver_sql("SELECT seq FROM audit_head WHERE id = 1").scalar()
    return int(size or 0)


def stored_nodes(session: Session, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The hashes of the given complete subtrees in one indexed read.

    Subtrees of TILE_LEVEL or more come from audit_node (`level = l AND idx IN (...)` on the
    primary key); smaller ones are hashed from their tile's leaf hashes (`seq BETWEEN`, at most
    2**TILE_LEVEL rows per tile). Plain SQL on purpose: building the expression with SQLAlchemy
    cost ~20x the query itself; only integers computed here are spliced into the text.
    """
    tiles = {index >> (TILE_LEVEL - level) for level, index in wanted if level < TILE_LEVEL}
    by_level: dict[int, list[str]] = {}
    for level, index in wanted:
        if level >= TILE_LEVEL:
            by_level.setdefault(int(level), []).append(str(int(index)))
    parts = []
    if tiles:
        ranges = " OR ".join(
            f"seq BETWEEN {(tile << TILE_LEVEL) + 1} AND {(tile + 1) << TILE_LEVEL}"
            for tile in sorted(tiles)
        )
        parts.append("SELECT 0, seq - 1, leaf_hash FROM audit_entry WHERE " + ranges)  # noqa: S608 - integers only
    if by_level:
        wheres = " OR ".join(
            f"(level = {lv} AND idx IN ({','.join(ix)}))" for lv, ix in by_level.items()
        )
        parts.append("SELECT level, idx, hash FROM audit_node WHERE " + wheres)  # noqa: S608 - integers only
    found: dict[merkle.Node, bytes] = {}
    if parts:
        rows = session.connection().exec_driver_sql(" UNION ALL ".join(parts))
        found.update(((int(level), int(idx)), bytes(value)) for level, idx, value in rows)
    found.update(_from_leaves(found, {node for node in wanted if 0 < node[0] < TILE_LEVEL}))
    missing = wanted - set(found)
    if missing:
        raise LookupError(f"audit tree nodes missing: {sorted(missing)[:3]}")
    return found


def _from_leaves(
    found: dict[merkle.Node, bytes], wanted: set[merkle.Node]
) -> dict[merkle.Node, bytes]:
    """Hash small complete subtrees from the leaf hashes read with their tile."""
    computed: dict[merkle.Node, bytes] = {}
    for level, index in wanted:
        first = index << level
        row = [found.get((0, leaf)) for leaf in range(first, first + (1 << level))]
        if any(value is None for value in row):
            continue  # reported as missing
        hashes = [value for value in row if value is not None]
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        computed[(level, index)] = hashes[0]
    return computed


def _hashes(session: Session, ranges: list[merkle.Range]) -> list[bytes]:
    return merkle.hash_ranges(ranges, stored_nodes(session, merkle.nodes_for(ranges)))


def root_at(session: Session, size: int) -> bytes:
    """The root of the first `size` leaves, from at most one stored node per level."""
    return _hashes(session, [(0, size)])[0] if size else merkle.EMPTY_ROOT


class InclusionProof(NamedTuple):
    leaf_index: int
    tree_size: int
    path: list[bytes]


def inclusion_proof(session: Session, seq: int, *, tree_size: int | None = None) -> InclusionProof:
    """The path proving entry `seq` (leaf `seq - 1`) is in the tree of `tree_size` (default now)."""
    size = _size(session, tree_size)
    if not 1 <= seq <= size:
        raise LookupError(f"entry {seq} is not in the audit tree of size {size}")
    return InclusionProof(seq - 1, size, _hashes(session, merkle.inclusion_ranges(seq - 1, size)))


def consistency_proof(
    session: Session, *, old_size: int, new_size: int | None = None
) -> list[bytes]:
    """The path proving the tree of `new_size` (default: now) extends the one of `old_size`."""
    size = _size(session, new_size)
    if not 0 <= old_size <= size:
        raise LookupError(f"no consistency proof from size {old_size} to {size}")
    return _hashes(session, merkle.consistency_ranges(old_size, size))


def _size(session: Session, wanted: int | None) -> int:
    current = tree_size(session)
    if wanted is None:
        return current
    if not 0 <= wanted <= current:
        raise LookupError(f"the audit tree has {current} entries, not {wanted}")
    return wanted


def leaf_fields(entry: AuditEntry) -> LeafFields:
    """What entry's leaf commits to: export these (with a proof) for an offline verifier."""
    return LeafFields(
        entry.seq,
        entry.at,
        entry.event,
        entry.actor,
        entry.subject,
        entry.payload,
        entry.stream_seq,
        bytes(entry.stream_prev),
    )


def stream_entries(session: Session, subject: str) -> list[LeafFields]:
    """Every entry of one subject's stream, in order: with the last one's inclusion proof,
    `records.offline.check_stream` shows none is missing from the conversation or order."""
    rows = session.scalars(
        select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.seq)
    )
    return [leaf_fields(row) for row in rows]


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The newest signed checkpoint (its `note` is the C2SP signed-note text), if any."""
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
    ).first()


# ---- verification (records.verify re-derives everything) ----


def verify(session: Session, *, keys: Keyring | None = None) -> VerifyResult:
    """Re-derive the whole log: leaves, streams, stored nodes, head and checkpoints (their
    signatures too when `keys` are given)."""
    from dealchat.records.verify import verify_log  # noqa: PLC0415 - verify imports this module

    return verify_log(session, keys=keys)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
