"""Append to the audit log, prove what it holds, verify it. Appends join the caller's transaction.

Each entry is a leaf of an RFC 9162 Merkle tree (`records.merkle`) and the next link of its
subject's stream (`records.leaf`). An append locks the one head row, so appends never interleave;
it writes the entry, the complete subtrees the entry completes (`audit_node`), the stream's new head
and the tree's new size, root and right edge, all in the caller's transaction, as plain driver rows
(the hot paths use no ORM and no per-row type processing).

Proofs read at most one stored node per path element, in one query, and keep the nodes they read
in a bounded per-engine cache (`_NodeCache`: stored nodes never change once committed); the first
session that needs stored nodes without having appended loads the tree's upper levels into it in
one read, so a proof at 1,000,000 entries then reads its tile and two nodes.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol, cast

from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, event, select, update
from sqlalchemy.orm import Session, SessionTransaction

from dealchat.db.base import to_micros, utcnow
from dealchat.records import merkle
from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent
from dealchat.records.hooks import run_after_record
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, Recorded, at_text, leaf_data
from dealchat.records.merkle import leaf_hash
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
    entry = AuditEntry(
        seq=done.seq, at=done.at, event=done.event, actor=done.actor, subject=done.subject,
        payload=done.payload, stream_seq=done.stream_seq, prev_seq=done.prev_seq,
        leaf_hash=done.leaf_hash,
    )  # fmt: skip
    entry.prev_leaf_hash = done.stream_prev
    return entry


def append(session: Session, *, entries: Sequence[NewEntry]) -> list[Recorded]:
    """Append entries in order, in one go (the batched path; `record` is a batch of one).

    Entries and nodes go to the database as plain DBAPI rows (`executemany`), in the caller's
    transaction, after the head row is locked.
    """
    if not entries:
        return []
    size, frontier = _lock_head(session, len(entries))
    session.info[_APPENDED] = True
    subjects = {item.subject for item in entries}
    known = _stream_heads(session, subjects)
    streams = dict(known)
    at = utcnow()
    at_us, when = to_micros(at), at_text(at)
    done: list[Recorded] = []
    rows: list[tuple[Any, ...]] = []
    nodes: list[tuple[int, int, bytes]] = []
    for seq, item in enumerate(entries, start=size + 1):
        subject, actor, event = item.subject, item.actor, item.event.value
        stream_seq, stream_prev, prev_seq = streams.get(subject, _NEW_STREAM)
        stream_seq += 1
        payload = canonical_json(item.payload)
        leaf = leaf_hash(
            leaf_data(seq, when, event, actor, subject, payload, stream_seq, stream_prev)
        )
        done.append(
            Recorded(
                seq, at, event, actor, subject, payload, stream_seq, stream_prev, leaf, prev_seq
            )
        )
        rows.append((seq, at_us, event, actor, subject, payload, stream_seq, prev_seq, leaf))
        streams[subject] = (stream_seq, leaf, seq)
        nodes.extend(merkle.push_leaf(frontier, seq - 1, leaf, min_level=TILE_LEVEL))
    connection = session.connection()
    connection.exec_driver_sql(driver_sql(connection, _INSERT_ENTRY), rows)
    if nodes:
        connection.exec_driver_sql(driver_sql(connection, _INSERT_NODE), nodes)
    _save_streams(connection, streams, subjects=subjects, known=set(known))
    connection.execute(
        update(HEAD)
        .where(HEAD.c.id == 1)
        .values(root=merkle.fold(frontier), frontier=b"".join(frontier))
    )
    run_after_record(session, done)
    return done


# Complete subtrees of 2**TILE_LEVEL leaves or more are stored; smaller ones are hashed from their
# tile's leaves when a proof needs them (at most 16 leaf hashes read per tile).
TILE_LEVEL = 4

# Core tables for the hot paths (appends, proofs, verification): no ORM unit of work per row.
ENTRY = cast(Table, AuditEntry.__table__)
NODE = cast(Table, AuditNode.__table__)
HEAD = cast(Table, AuditHead.__table__)
STREAM = cast(Table, AuditStream.__table__)

_NEW_STREAM = (0, STREAM_GENESIS, 0)
_INSERT_ENTRY = (
    "INSERT INTO audit_entry (seq, at, event, actor, subject, payload, stream_seq, prev_seq, "
    "leaf_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_NODE = "INSERT INTO audit_node (level, idx, hash) VALUES (?, ?, ?)"
_INSERT_STREAM = "INSERT INTO audit_stream (seq, last, last_entry, subject) VALUES (?, ?, ?, ?)"
_UPDATE_STREAM = "UPDATE audit_stream SET seq = ?, last = ?, last_entry = ? WHERE subject = ?"


def driver_sql(connection: Connection, statement: str) -> str:
    """A statement written with `?` placeholders, in the driver's style (psycopg takes %s)."""
    return statement if connection.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


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


def _stream_heads(session: Session, subjects: set[str]) -> dict[str, tuple[int, bytes, int]]:
    """Each known subject's stream number, last leaf hash and last entry."""
    connection = session.connection()
    marks = ", ".join("?" * len(subjects))
    query = f"SELECT subject, seq, last, last_entry FROM audit_stream WHERE subject IN ({marks})"  # noqa: S608 - placeholders only
    cursor = connection.connection.cursor()
    try:
        cursor.execute(driver_sql(connection, query), tuple(subjects))
        found = cursor.fetchall()
    finally:
        cursor.close()
    return {subject: (int(seq), bytes(last), int(entry)) for subject, seq, last, entry in found}


def _save_streams(
    connection: Connection,
    streams: dict[str, tuple[int, bytes, int]],
    *,
    subjects: set[str],
    known: set[str],
) -> None:
    fresh = [(*streams[s], s) for s in subjects - known]
    if fresh:
        connection.exec_driver_sql(driver_sql(connection, _INSERT_STREAM), fresh)
    moved = [(*streams[s], s) for s in subjects & known]
    if moved:
        connection.exec_driver_sql(driver_sql(connection, _UPDATE_STREAM), moved)


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
    return _Tree(session).size()


def stored_nodes(session: Session, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The hashes of the given complete subtrees, from the node cache and one indexed read."""
    return _Tree(session).nodes(wanted)


class _Tree:
    """The stored tree as one session sees it: plain SQL on the driver's cursor (building the
    statements with SQLAlchemy cost ~20x the queries themselves), and the engine's cache of
    stored nodes."""

    def __init__(self, session: Session) -> None:
        connection = session.connection()
        self._dbapi = connection.connection
        self._cache = _NodeCache.of(connection.engine)
        self._keep = not session.info.get(_APPENDED)
        self._qmark = connection.dialect.paramstyle == "qmark"

    def fetch(self, sql: str, params: Sequence[int] = ()) -> list[Any]:
        cursor = self._dbapi.cursor()
        try:
            cursor.execute(sql if self._qmark else sql.replace("?", "%s"), params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def size(self, wanted: int | None = None) -> int:
        found = self.fetch("SELECT seq FROM audit_head WHERE id = 1")
        current = int(found[0][0]) if found else 0
        if wanted is None:
            return current
        if not 0 <= wanted <= current:
            raise LookupError(f"the audit tree has {current} entries, not {wanted}")
        return wanted

    def hashes(self, ranges: list[merkle.Range]) -> list[bytes]:
        return self.folded([merkle.range_nodes(start, end) for start, end in ranges])

    def folded(self, per_range: list[list[merkle.Node]]) -> list[bytes]:
        """The hash of each range given as its complete subtrees."""
        found = self.nodes({node for nodes in per_range for node in nodes})
        return [
            found[nodes[0]] if len(nodes) == 1 else merkle.fold([found[node] for node in nodes])
            for nodes in per_range
        ]

    def nodes(self, wanted: set[merkle.Node]) -> dict[merkle.Node, bytes]:
        """Subtrees of TILE_LEVEL or more from the cache or audit_node (primary key); smaller
        ones hashed from their tile's leaf hashes (`seq BETWEEN`, at most 2**TILE_LEVEL rows).
        One read for all that is not cached, its text fixed by how many tiles and nodes it reads
        (the values are bound), so the driver reuses the prepared statement."""
        if self._keep and not self._cache.warmed:
            self._warm()
        cached = self._cache.nodes.get
        found: dict[merkle.Node, bytes] = {}
        tiles: set[int] = set()
        unknown: list[int] = []
        for node in wanted:
            level, index = node
            if level < TILE_LEVEL:
                tiles.add(index >> (TILE_LEVEL - level))
            elif (value := cached(node)) is not None:
                found[node] = value
            else:
                unknown += node
        params = [edge for tile in tiles for edge in _tile_edges(tile)] + unknown
        if params:
            sql = _read_sql(len(tiles), len(unknown) // 2)
            read = {(lv, ix): bytes(value) for lv, ix, value in self.fetch(sql, params)}
            if self._keep:
                self._cache.keep({node: value for node, value in read.items() if node[0]})
            found.update(read)
        found.update(_from_leaves(found, {node for node in wanted if 0 < node[0] < TILE_LEVEL}))
        if len(found) < len(wanted) or not wanted <= found.keys():
            missing = sorted(wanted - set(found))
            raise LookupError(f"audit tree nodes missing: {missing[:3]}")
        return found

    def _warm(self) -> None:
        """The upper levels of the tree (at most ~WARM_NODES nodes, each covering as many
        entries as that allows) into the engine's cache in one read, the first time a session
        that appended nothing needs stored nodes: proofs then read little more than their tile."""
        self._cache.warmed = True
        size, level = self.size(), TILE_LEVEL
        while 2 * (size >> level) > WARM_NODES:
            level += 1
        rows = self.fetch("SELECT level, idx, hash FROM audit_node WHERE level >= ?", [level])
        self._cache.keep({(lv, ix): bytes(value) for lv, ix, value in rows})


WARM_NODES = 1 << 15  # ~4 MB of cache; at 1,000,000 entries the levels from 6 up


def _tile_edges(tile: int) -> tuple[int, int]:
    """The first and last entry of a tile (entries are numbered from 1)."""
    return (tile << TILE_LEVEL) + 1, (tile + 1) << TILE_LEVEL


@functools.lru_cache(maxsize=256)
def _read_sql(tiles: int, nodes: int) -> str:
    parts = ["SELECT 0, seq - 1, leaf_hash FROM audit_entry WHERE seq BETWEEN ? AND ?"] * tiles
    parts += ["SELECT level, idx, hash FROM audit_node WHERE level = ? AND idx = ?"] * nodes
    return " UNION ALL ".join(parts)


class _NodeCache:
    """Stored complete subtrees already read, per engine, at most MAX of them (oldest dropped).

    Sound because a stored node never changes once committed (the table is append-only by
    trigger): only nodes read by a session that has appended nothing are kept, so everything
    kept was committed (isolation shows a session no other uncommitted rows), and a rolled-back
    append can never leave a node here. A session that appended reads from the cache as well:
    its own new nodes lie beyond every committed one. `records.verify` never uses it.
    """

    MAX = 1 << 17  # ~15 MB; a 1,000,000-entry log has 125,000 stored nodes

    _all: ClassVar[weakref.WeakKeyDictionary[Engine, _NodeCache]] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.nodes: OrderedDict[merkle.Node, bytes] = OrderedDict()  # read without the lock
        self.warmed = False
        self._lock = threading.Lock()

    @classmethod
    def of(cls, engine: Engine) -> _NodeCache:
        cache = cls._all.get(engine)
        if cache is None:
            cache = cls._all.setdefault(engine, cls())
        return cache

    def keep(self, nodes: dict[merkle.Node, bytes]) -> None:
        if not nodes:
            return
        with self._lock:
            self.nodes.update(nodes)
            while len(self.nodes) > self.MAX:
                self.nodes.popitem(last=False)


_APPENDED = "dealchat_audit_appended"  # session.info: this transaction appended to the log


def _forget_appends(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (savepoints do not count)
        session.info.pop(_APPENDED, None)


event.listen(Session, "after_transaction_end", _forget_appends)


def _from_leaves(
    found: dict[merkle.Node, bytes], wanted: set[merkle.Node]
) -> dict[merkle.Node, bytes]:
    """Hash small complete subtrees from the leaf hashes read with their tile."""
    computed: dict[merkle.Node, bytes] = {}
    for level, index in wanted:
        first = index << level
        hashes = [found.get((0, leaf)) for leaf in range(first, first + (1 << level))]
        if None in hashes:
            continue  # reported as missing
        while len(hashes) > 1:
            hashes = list(map(merkle.node_hash, hashes[0::2], hashes[1::2]))  # type: ignore[arg-type]
        computed[(level, index)] = hashes[0]  # type: ignore[assignment]
    return computed


def root_at(session: Session, size: int) -> bytes:
    """The root of the first `size` leaves, from at most one stored node per level."""
    return _Tree(session).hashes([(0, size)])[0] if size else merkle.EMPTY_ROOT


class InclusionProof(NamedTuple):
    leaf_index: int
    tree_size: int
    path: list[bytes]


def inclusion_proof(session: Session, seq: int, *, tree_size: int | None = None) -> InclusionProof:
    """The path proving entry `seq` (leaf `seq - 1`) is in the tree of `tree_size` (default now)."""
    tree = _Tree(session)
    size = tree.size(tree_size)
    if not 1 <= seq <= size:
        raise LookupError(f"entry {seq} is not in the audit tree of size {size}")
    return InclusionProof(seq - 1, size, tree.folded(merkle.inclusion_nodes(seq - 1, size)))


def consistency_proof(
    session: Session, *, old_size: int, new_size: int | None = None
) -> list[bytes]:
    """The path proving the tree of `new_size` (default: now) extends the one of `old_size`."""
    tree = _Tree(session)
    size = tree.size(new_size)
    if not 0 <= old_size <= size:
        raise LookupError(f"no consistency proof from size {old_size} to {size}")
    return tree.hashes(merkle.consistency_ranges(old_size, size))


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
    rows = session.scalars(select(AuditEntry).where(in_stream(subject)).order_by(AuditEntry.seq))
    return [leaf_fields(row) for row in rows]


def in_stream(subject: str) -> ColumnElement[bool]:
    """A condition on AuditEntry: the entry is in `subject`'s stream. The stream is walked back
    along its links from its head (`audit_stream.last_entry`), one primary-key read per entry:
    no index on subject is kept. Links only point back, so a damaged link ends the walk."""
    start = select(STREAM.c.last_entry.label("seq")).where(STREAM.c.subject == subject)
    chain = start.cte("stream_chain", recursive=True)
    chain = chain.union_all(
        select(ENTRY.c.prev_seq).where(
            ENTRY.c.seq == chain.c.seq, ENTRY.c.prev_seq > 0, ENTRY.c.prev_seq < ENTRY.c.seq
        )
    )
    return and_(AuditEntry.seq.in_(select(chain.c.seq)), AuditEntry.subject == subject)


def latest_checkpoint(session: Session) -> AuditCheckpoint | None:
    """The newest signed checkpoint (its `note` is the C2SP signed-note text), if any."""
    return session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.size.desc()).limit(1)
    ).first()


# ---- verification (records.verify re-derives everything) ----


def verify(session: Session, *, keys: Keyring | None = None, workers: int = 1) -> VerifyResult:
    """Re-derive the whole log: leaves, streams, stored nodes, head and checkpoints (their
    signatures too when `keys` are given); `workers` > 1 only from a transaction that has
    written nothing (see `records.verify.verify_log`)."""
    from dealchat.records.verify import verify_log  # noqa: PLC0415 - verify imports this module

    return verify_log(session, keys=keys, workers=workers)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None
    # the recomputed root at each size asked for (`verify_log(roots_at=...)`), up to `checked`
    roots: dict[int, bytes] = field(default_factory=dict)
