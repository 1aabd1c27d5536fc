"""Record in the audit log, prove what it holds, verify it. Entries join the caller's transaction.

Each entry is a leaf of an RFC 9162 Merkle tree (`records.merkle`) and the next link of its
subject's stream (`records.leaf`). `record` only notes the entry in the session (after-record hooks
see it at once); no request waits for another to record. At the transaction's commit the entries
are *placed*: numbered, hashed into the tree, their streams moved on, the complete subtrees they
complete stored (`audit_node`) and the tree's new size, root and right edge written, in one go, by
the transaction that holds the placer's lock. On SQLite that is every writer (BEGIN IMMEDIATE
already serialises them). On PostgreSQL it is a transaction-scoped advisory lock, tried without
waiting: the winner places its own entries and every entry others queued; a transaction that
finds it taken writes its entries to `audit_queue` in its own commit and, once its connection is
back in the pool, places the queue in a short transaction that waits for the lock (so a request's
entries are in the tree before it answers). What a process that died in between left queued is
placed by the next placer or by the checkpointer's round (`records.checkpoints`, at least every
`checkpoint_interval_seconds`). Either way an entry commits in the same transaction as the change
it records.

Entries of one subject keep their order: transactions that change the same thing lock the same
row, so the later one queues (or places) after the earlier one committed.

Placing writes plain driver rows (no ORM, no per-row type processing), on PostgreSQL in one
statement (entries, nodes, stream heads and the queue's done rows as data-modifying CTEs of the
head's UPDATE). Proofs read at most one stored node per path element, in one query, and keep
the nodes they read in a bounded per-engine cache (`_NodeCache`: stored nodes never change once
committed); the first session that needs stored nodes without having placed any loads the tree's
upper levels into it in one read, so a proof at 1,000,000 entries then reads its tile and two
nodes.
"""

from __future__ import annotations

import functools
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol, cast

from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, event, select
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from dealchat.db import driver
from dealchat.db.base import from_micros, to_micros, utcnow
from dealchat.db.bulk import insert_new
from dealchat.db.session import per_transaction
from dealchat.records import merkle
from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent
from dealchat.records.hooks import run_after_record
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, Queued, Recorded, at_text, leaf_data
from dealchat.records.merkle import leaf_hash
from dealchat.records.models import AuditCheckpoint, AuditEntry, AuditHead, AuditNode, AuditStream
from dealchat.records.notes import Keyring

log = logging.getLogger("dealchat.records")


@dataclass(frozen=True)
class NewEntry:
    event: AuditEvent
    actor: str
    subject: str
    payload: dict[str, Any]


def record(
    session: Session, *, event: AuditEvent, actor: str, subject: str, payload: dict[str, Any]
) -> Queued:
    """Record one entry in the caller's transaction; it is placed in the tree at commit."""
    entry = Queued(utcnow(), event.value, actor, subject, canonical_json(payload))
    session.info.setdefault(_PENDING, []).append(entry)
    run_after_record(session, (entry,))
    return entry


def record_now(
    session: Session, *, event: AuditEvent, actor: str, subject: str, payload: dict[str, Any]
) -> Recorded:
    """`record`, placed at once (waiting for the placer's lock): for the few callers that must
    name the entry's number in what they return (an erasure, a retention run)."""
    entry = record(session, event=event, actor=actor, subject=subject, payload=payload)
    return settle(session)[id(entry)]


def pending(session: Session) -> list[Queued]:
    """What this transaction recorded that is not placed yet (it will be at commit)."""
    return list(session.info.get(_PENDING, ()))


def settle(session: Session) -> dict[int, Recorded]:
    """Place now, waiting for the placer's lock, what this transaction recorded and what others
    queued; each of this transaction's entries by `id()` of its `Queued`. Not in a savepoint."""
    if session.in_nested_transaction():
        raise RuntimeError("audit entries are placed by the outermost transaction")
    own: list[Queued] = session.info.pop(_PENDING, [])
    _take_lock(session, wait=True)
    placed = _place(session, own)
    mine = placed[len(placed) - len(own) :]
    return {id(entry): done for entry, done in zip(own, mine, strict=True)}


def append(session: Session, *, entries: Sequence[NewEntry]) -> list[Recorded]:
    """Place entries at once, in order, in the caller's transaction (waiting for the placer's
    lock): the direct path, for imports and tests; requests use `record`."""
    if not entries:
        return []
    queued = [
        Queued(utcnow(), item.event.value, item.actor, item.subject, canonical_json(item.payload))
        for item in entries
    ]
    run_after_record(session, queued)
    _take_lock(session, wait=True)
    return _append_placed(session, queued)


def _place(session: Session, own: Sequence[Queued]) -> list[Recorded]:
    """Place what others queued (oldest first), then `own`; the placer's lock is held. The
    queue is read with the heads, in one statement."""
    connection = session.connection()
    heads = _read_heads(
        connection, {item.subject for item in own}, queue=connection.dialect.name != "sqlite"
    )
    waiting = heads.queued
    placing = [entry for _, entry in waiting] + list(own)
    return _append_placed(session, placing, heads, dequeued=[number for number, _ in waiting])


def _append_placed(
    session: Session,
    entries: Sequence[Queued],
    heads: _Heads | None = None,
    dequeued: Sequence[int] = (),
) -> list[Recorded]:
    """Number and hash `entries` as the next leaves and stream links, and store them. `heads`:
    the tree's and the entries' streams' heads, read under the placer's lock; `dequeued`: the
    queued rows among them, deleted from the queue."""
    if not entries:
        return []
    connection = session.connection()
    subjects = {item.subject for item in entries}
    if heads is None:
        heads = _read_heads(connection, subjects, queue=False)
    size, frontier = heads.size, heads.frontier
    session.info[_APPENDED] = True
    streams = dict(heads.streams)
    done: list[Recorded] = []
    rows: list[tuple[Any, ...]] = []
    nodes: list[tuple[int, int, bytes]] = []
    for seq, item in enumerate(entries, start=size + 1):
        subject, actor, event_name, payload, at = (
            item.subject, item.actor, item.event, item.payload, item.at
        )  # fmt: skip
        stream_seq, stream_prev, prev_seq = streams.get(subject, _NEW_STREAM)
        stream_seq += 1
        when = at_text(at)
        leaf = leaf_hash(
            leaf_data(seq, when, event_name, actor, subject, payload, stream_seq, stream_prev)
        )
        done.append(
            Recorded(
                seq, at, event_name, actor, subject, payload, stream_seq, stream_prev, leaf,
                prev_seq,
            )
        )  # fmt: skip
        rows.append(
            (seq, to_micros(at), event_name, actor, subject, payload, stream_seq, prev_seq, leaf)
        )
        streams[subject] = (stream_seq, leaf, seq)
        nodes.extend(merkle.push_leaf(frontier, seq - 1, leaf, min_level=TILE_LEVEL))
    written = _Written(
        rows,
        nodes,
        [(*streams[s], s) for s in sorted(subjects)],
        list(dequeued),
        (size + len(entries), merkle.fold(frontier), b"".join(frontier), size),
    )
    if _write(connection, written) != 1:
        raise RuntimeError("audit log head moved under the placer's lock, or is missing")
    return done


class _Written(NamedTuple):
    """What placing writes: entries, nodes, stream heads, queued rows done, the tree's head."""

    entries: list[tuple[Any, ...]]
    nodes: list[tuple[int, int, bytes]]
    streams: list[tuple[Any, ...]]
    dequeued: list[int]
    head: tuple[int, bytes, bytes, int]  # new size, root, right edge; the size it moves from

    def parameters(self) -> int:
        rows = (len(self.entries) * 9, len(self.nodes) * 3, len(self.streams) * 4)
        return sum(rows) + len(self.dequeued) + 4


def _write(connection: Connection, written: _Written) -> int:
    """Store what placing wrote; how many head rows moved (1, or the head was tampered with).
    On PostgreSQL in one statement (data-modifying CTEs, then the head's UPDATE) while its
    parameters fit (a large batch of queued entries takes one statement per table)."""
    postgres = connection.dialect.name == "postgresql"
    if postgres and written.parameters() <= ONE_STATEMENT_PARAMETERS:
        sql, values = _one_statement(written)
        return driver.change(connection, sql, values)
    insert_rows(connection, _INSERT_ENTRY, written.entries)
    insert_rows(connection, _INSERT_NODE, written.nodes)
    insert_rows(connection, _SAVE_STREAM, written.streams)
    for start in range(0, len(written.dequeued), ROWS_PER_STATEMENT):
        batch = written.dequeued[start : start + ROWS_PER_STATEMENT]
        driver.change(connection, _dequeue_sql(len(batch)), batch)
    return driver.change(connection, _MOVE_HEAD, written.head)


def _one_statement(written: _Written) -> tuple[str, tuple[Any, ...]]:
    parts: list[str] = []
    values: list[Any] = []
    tables = ((_INSERT_ENTRY, written.entries), (_INSERT_NODE, written.nodes))
    for statement, rows in (*tables, (_SAVE_STREAM, written.streams)):
        if rows:
            parts.append(f"w{len(parts)} AS ({_values_sql(statement, len(rows))})")
            values.extend(value for row in rows for value in row)
    if written.dequeued:
        parts.append(f"w{len(parts)} AS ({_dequeue_sql(len(written.dequeued))})")
        values.extend(written.dequeued)
    return f"WITH {', '.join(parts)} {_MOVE_HEAD}", (*values, *written.head)


def _dequeue_sql(count: int) -> str:
    return f"DELETE FROM audit_queue WHERE id IN ({', '.join('?' * count)})"  # noqa: S608 - placeholders only


def _values_sql(statement: tuple[str, int, str], count: int) -> str:
    head, width, tail = statement
    one = "(" + ", ".join("?" * width) + ")"
    return head + ", ".join([one] * count) + tail


# Complete subtrees of 2**TILE_LEVEL leaves or more are stored; smaller ones are hashed from their
# tile's leaves when a proof needs them (at most 16 leaf hashes read per tile).
TILE_LEVEL = 4

# Core tables for the hot paths (appends, proofs, verification): no ORM unit of work per row.
ENTRY = cast(Table, AuditEntry.__table__)
NODE = cast(Table, AuditNode.__table__)
HEAD = cast(Table, AuditHead.__table__)
STREAM = cast(Table, AuditStream.__table__)

_NEW_STREAM = (0, STREAM_GENESIS, 0)
# Row inserts as (statement up to VALUES, columns per row, what follows the rows): see insert_rows.
_INSERT_ENTRY = (
    "INSERT INTO audit_entry (seq, at, event, actor, subject, payload, stream_seq, prev_seq, "
    "leaf_hash) VALUES ",
    9,
    "",
)
_INSERT_NODE = ("INSERT INTO audit_node (level, idx, hash) VALUES ", 3, "")
_INSERT_QUEUED = ("INSERT INTO audit_queue (at, event, actor, subject, payload) VALUES ", 5, "")
_MOVE_HEAD = "UPDATE audit_head SET seq = ?, root = ?, frontier = ? WHERE id = 1 AND seq = ?"
QUEUE_BATCH = 5000  # queued entries placed per transaction at most
# (kind, subject, number, second number, hash(es), event, actor, payload): kind 0 the tree's head
# (size, -, frontier), 1 a stream's (seq, last entry, last leaf), 2 a queued entry (id, at).
_HEAD_ROW = "SELECT 0, '', seq, 0, frontier, NULL, NULL, NULL FROM audit_head WHERE id = 1"
_STREAM_ROWS = (
    "SELECT 1, subject, seq, last_entry, last, NULL, NULL, NULL FROM audit_stream "
    "WHERE subject IN ({subjects})"
)
_READ_HEADS = f"{_HEAD_ROW} UNION ALL {_STREAM_ROWS}"
_READ_QUEUED_HEADS = (
    "WITH q AS (SELECT id, at, event, actor, subject, payload FROM audit_queue "  # noqa: S608
    f"ORDER BY id LIMIT {QUEUE_BATCH}) "
    f"{_HEAD_ROW} UNION ALL {_STREAM_ROWS} OR subject IN (SELECT subject FROM q) UNION ALL "
    "SELECT 2, subject, id, at, NULL, event, actor, payload FROM q"
)
_SAVE_STREAM = (
    "INSERT INTO audit_stream (seq, last, last_entry, subject) VALUES ",
    4,
    " ON CONFLICT (subject) DO UPDATE "
    "SET seq = excluded.seq, last = excluded.last, last_entry = excluded.last_entry",
)
ROWS_PER_STATEMENT = 500  # SQLite takes up to 32,766 parameters in one statement
ONE_STATEMENT_PARAMETERS = 30_000  # PostgreSQL takes up to 65,535


def insert_rows(
    connection: Connection, statement: tuple[str, int, str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """`rows` in as few statements as can carry them (`INSERT ... VALUES (..), (..), ...`): one
    for a request's few entries, instead of one round trip per row."""
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        batch = rows[start : start + ROWS_PER_STATEMENT]
        flat = tuple(value for row in batch for value in row)
        driver.change(connection, _values_sql(statement, len(batch)), flat)


@dataclass
class _Heads:
    size: int  # the tree's
    frontier: list[bytes]  # its right edge
    streams: dict[str, tuple[int, bytes, int]]  # subject -> stream number, last leaf, last entry
    queued: list[tuple[int, Queued]]  # entries other transactions queued, oldest first


def _read_heads(connection: Connection, subjects: set[str], *, queue: bool) -> _Heads:
    """In one statement (the placer's lock is held: nobody else moves them): the tree's size and
    right edge, each known stream's head among `subjects` and, with `queue`, up to QUEUE_BATCH
    queued entries and their subjects' stream heads."""
    marks = ", ".join("?" * len(subjects)) or "NULL"  # placeholders only
    query = (_READ_QUEUED_HEADS if queue else _READ_HEADS).format(subjects=marks)
    heads = _Heads(-1, [], {}, [])
    rows = driver.fetch(connection, query, tuple(subjects))
    for kind, subject, number, second, blob, event_name, actor, payload in rows:
        if kind == 0:
            heads.size, heads.frontier = int(number), split_hashes(bytes(blob))
        elif kind == 1:
            heads.streams[subject] = (int(number), bytes(blob), int(second))
        else:
            queued = Queued(from_micros(second), event_name, actor, subject, payload)
            heads.queued.append((int(number), queued))
    if heads.size < 0:
        raise RuntimeError("audit log head missing: database not migrated, or tampered with")
    heads.queued.sort(key=lambda item: item[0])
    return heads


# The placer's lock on PostgreSQL: a transaction-scoped advisory lock on ("dlch", the schema), so
# two installations in one database (schemas) never wait on each other.
PLACER_LOCK = "{}(1684824936, hashtext(current_schema()))"  # 1684824936 = b"dlch"
_LOCKED = per_transaction("dealchat_audit_placer")  # this transaction holds the placer's lock


def _take_lock(session: Session, *, wait: bool) -> bool:
    """The placer's lock for this transaction: PostgreSQL's advisory lock (tried, or waited for);
    on SQLite the write lock this transaction took at BEGIN IMMEDIATE already is."""
    if session.info.get(_LOCKED):
        return True
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        [(got,)] = driver.fetch(connection, "SELECT " + PLACER_LOCK.format(function))
        if not wait and not got:
            return False
    session.info[_LOCKED] = True
    return True


def _queue(connection: Connection, entries: Sequence[Queued]) -> None:
    rows = [(to_micros(e.at), e.event, e.actor, e.subject, e.payload) for e in entries]
    insert_rows(connection, _INSERT_QUEUED, rows)


def place_queued(session: Session) -> int:
    """Place up to QUEUE_BATCH queued entries if no other transaction is placing (the
    `Integrator`'s step); how many were placed."""
    if not _take_lock(session, wait=False):
        return 0
    return len(_place(session, ()))


def _place_at_commit(session: Session) -> None:
    """Before the outermost commit: place this transaction's entries, or queue them."""
    if session.in_nested_transaction():
        return
    own: list[Queued] | None = session.info.pop(_PENDING, None)
    if not own:
        return
    if _take_lock(session, wait=False):
        _place(session, own)
        return
    _queue(session.connection(), own)
    session.info[_QUEUED_HERE] = True


def _place_queue_after(session: Session) -> None:
    """After a commit that queued its entries: place the queue in a transaction of its own,
    waiting for the placer's lock (held only while another transaction places and commits),
    so that when the caller answers, what it recorded is in the tree. The committed
    transaction's connection is back in the pool by now, so this one can take it; if this
    fails (or the process dies first) the next placer, or the checkpointer's round, places
    them."""
    bind = session.get_bind()
    try:
        with Session(bind=bind) as placer, placer.begin():
            _take_lock(placer, wait=True)
            _place(placer, ())
    except Exception:  # the entries stay queued, committed: the next placer takes them
        log.exception("placing queued audit entries failed; left for the next placer")


_QUEUED_HERE = "dealchat_audit_queued"  # session.info: this commit left entries in the queue


_PENDING = per_transaction("dealchat_audit_pending")  # entries recorded, not yet placed
_SAVEPOINT_MARKS: weakref.WeakKeyDictionary[SessionTransaction, int] = weakref.WeakKeyDictionary()


def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        _SAVEPOINT_MARKS[transaction] = len(session.info.get(_PENDING, ()))


def _drop_rolled_back(session: Session, previous: SessionTransaction) -> None:
    """A savepoint rolled back: so are the entries recorded inside it."""
    mark = _SAVEPOINT_MARKS.pop(previous, None) if previous.nested else 0
    pending = session.info.get(_PENDING)
    if pending is not None and mark is not None:
        del pending[mark:]


event.listen(Session, "before_commit", _place_at_commit)

# A query option: read the log as committed, without placing this transaction's entries first.
AS_COMMITTED = "dealchat_audit_as_committed"


def _place_before_reading(state: ORMExecuteState) -> None:
    """A transaction reads its own entries: one that queries the log after recording places
    what it recorded first (waiting for the placer's lock), so it reads what it wrote. The
    message path never reads the log; a savepoint reads what was placed before it."""
    session = state.session
    if not state.is_select or not session.info.get(_PENDING):
        return
    if state.execution_options.get(AS_COMMITTED) or session.in_nested_transaction():
        return
    if any(mapper.class_ in _LOG_CLASSES for mapper in state.all_mappers):
        settle(session)


_LOG_CLASSES = frozenset({AuditEntry, AuditHead, AuditNode, AuditStream})
event.listen(Session, "do_orm_execute", _place_before_reading)
event.listen(Session, "after_transaction_create", _mark_savepoint)
event.listen(Session, "after_soft_rollback", _drop_rolled_back)


def split_hashes(packed: bytes) -> list[bytes]:
    size = merkle.HASH_SIZE
    return [packed[i : i + size] for i in range(0, len(packed), size)]


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
) -> Queued:
    """Insert `row` and audit its creation as `kind:<id>`, in the same transaction."""
    insert_new(session, row)
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
        if session.info.get(_PENDING) and not session.in_nested_transaction():
            settle(session)  # what this transaction recorded, placed before it is proven
        self._connection = session.connection()
        self._cache = _NodeCache.of(self._connection.engine)
        self._keep = not session.info.get(_APPENDED)

    def fetch(self, sql: str, params: Sequence[int] = ()) -> list[Any]:
        return driver.fetch(self._connection, sql, params)

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


_APPENDED = per_transaction("dealchat_audit_appended")  # this transaction placed entries


def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:  # a savepoint ended: the transaction goes on
        return
    if session.info.pop(_QUEUED_HERE, False):
        _place_queue_after(session)


event.listen(Session, "after_transaction_end", _transaction_ended)


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
