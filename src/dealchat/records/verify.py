"""`dealchat audit verify`: re-derive the whole log and name the first entry that fails.

Pass 1 walks the entries in order: contiguous numbers, each leaf hash recomputed from the entry's
fields, each subject stream's number and link. Pass 2 recomputes the tree level by level from the
leaves and compares every stored node. Then every checkpoint: its root against the recomputed tree
at its size, its signed text (and signature, when a keyring is given); the head (size, root, right
edge) and the stream heads. A failure names the lowest entry it touches: for a node, the first leaf
under it; for a checkpoint that no longer matches, the first entry after the last one that does.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.records import merkle
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, entry_leaf_hash
from dealchat.records.models import AuditCheckpoint, AuditHead, AuditStream
from dealchat.records.notes import OTHER_ROOT as _OTHER_ROOT
from dealchat.records.notes import Keyring, check_checkpoint_note
from dealchat.records.service import ENTRY, NODE, TILE_LEVEL, VerifyResult, split_hashes

_BATCH = 5000
_H = merkle.HASH_SIZE


@dataclass
class _Walk:
    keys: Keyring | None
    size: int = 0
    leaves: bytearray = field(default_factory=bytearray)
    levels: list[bytes] = field(default_factory=list)
    streams: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    failure: tuple[int, str] | None = None
    signed_up_to: int = 0  # the size of the last checkpoint that matched

    def fail(self, seq: int, problem: str) -> None:
        if self.failure is None or seq < self.failure[0]:
            self.failure = (seq, problem)

    def root(self, size: int) -> bytes:
        nodes = merkle.range_nodes(0, size)
        return merkle.fold([self.levels[lv][ix * _H : (ix + 1) * _H] for lv, ix in nodes])


def verify_log(session: Session, *, keys: Keyring | None = None) -> VerifyResult:
    walk = _Walk(keys)
    for row in _rows(session, select(*_ENTRY_COLUMNS), ENTRY.c.seq):
        if not _step(walk, row):
            break
    for check in (_check_nodes, _check_checkpoints, _check_head, _check_streams):
        if walk.failure is not None:
            break
        check(session, walk)
    if walk.failure is not None:
        seq, problem = walk.failure
        return VerifyResult(False, min(walk.size, seq - 1), seq, problem)
    return VerifyResult(True, walk.size)


_ENTRY_COLUMNS = tuple(
    ENTRY.c[name]
    for name in (
        "seq", "at", "event", "actor", "subject", "payload", "stream_seq", "stream_prev",
        "leaf_hash",
    )
)  # fmt: skip


def _rows(session: Session, statement: Any, key: Any) -> Iterator[Any]:
    """Rows in key order, a batch at a time (keyset pages: no cursor is left open)."""
    after = -1
    while True:
        page = statement.where(key > after).order_by(key).limit(_BATCH)
        batch = session.connection().execute(page).all()
        yield from batch
        if len(batch) < _BATCH:
            return
        after = getattr(batch[-1], key.key)


def _step(walk: _Walk, row: Any) -> bool:
    """Check one entry; False stops the walk (the entry is named)."""
    seq = int(row.seq)
    expected = walk.size + 1
    if seq != expected:
        walk.fail(expected, f"entry {expected} is missing (next stored entry is {seq})")
        return False
    stream_seq, stream_prev = walk.streams.get(row.subject, (0, STREAM_GENESIS))
    if row.stream_seq != stream_seq + 1 or not _same(bytes(row.stream_prev), stream_prev):
        walk.fail(seq, f"entry {seq} breaks the stream of {row.subject} (entry {stream_seq + 1})")
        return False
    fields = LeafFields(
        seq, row.at, row.event, row.actor, row.subject, row.payload, row.stream_seq, stream_prev
    )
    leaf = entry_leaf_hash(fields)
    if not _same(leaf, bytes(row.leaf_hash)):
        walk.fail(seq, f"entry {seq} was altered (its leaf hash does not match its content)")
        return False
    walk.streams[row.subject] = (stream_seq + 1, leaf)
    walk.leaves += leaf
    walk.size = seq
    return True


def _check_checkpoint(walk: _Walk, checkpoint: AuditCheckpoint, root: bytes) -> None:
    size, first = checkpoint.size, walk.signed_up_to + 1
    problem = check_checkpoint_note(checkpoint.note, size=size, root=root, keys=walk.keys)
    if not _same(bytes(checkpoint.root), root) or problem == _OTHER_ROOT:
        # the entries were rewritten consistently; the change lies after the last good checkpoint
        walk.fail(first, f"entries {first}-{size} do not match the checkpoint signed at {size}")
    elif problem is not None:
        walk.fail(size, f"the checkpoint at size {size}: {problem}")
    else:
        walk.signed_up_to = size


def _check_checkpoints(session: Session, walk: _Walk) -> None:
    for checkpoint in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.size)):
        if checkpoint.size > walk.size:
            walk.fail(
                walk.size + 1,
                f"entries after {walk.size} are missing (a checkpoint covers {checkpoint.size})",
            )
            return
        _check_checkpoint(walk, checkpoint, walk.root(checkpoint.size))


def _check_nodes(session: Session, walk: _Walk) -> None:
    """Recompute every level from the one below; compare the stored ones (TILE_LEVEL and up)."""
    below, level = bytes(walk.leaves), 1
    walk.levels = [below]
    while len(below) >= 2 * _H:
        pairs = range(0, len(below) // (2 * _H) * 2 * _H, 2 * _H)
        computed = b"".join(
            merkle.node_hash(below[i : i + _H], below[i + _H : i + 2 * _H]) for i in pairs
        )
        walk.levels.append(computed)
        if level >= TILE_LEVEL and not _compare_level(session, walk, level, computed):
            return
        below, level = computed, level + 1
    extra = (
        session.connection()
        .execute(
            select(NODE.c.level)
            .where((NODE.c.level < TILE_LEVEL) | (NODE.c.level >= level))
            .limit(1)
        )
        .first()
    )
    if extra is not None:
        walk.fail(walk.size + 1, f"a stored tree node at level {extra.level} covers no entries")


def _compare_level(session: Session, walk: _Walk, level: int, computed: bytes) -> bool:
    stored = _rows(
        session, select(NODE.c.idx, NODE.c.hash).where(NODE.c.level == level), NODE.c.idx
    )
    for index in range(len(computed) // _H):
        value = computed[index * _H : (index + 1) * _H]
        row = next(stored, None)
        if row is None or row.idx != index or not _same(bytes(row.hash), value):
            first = (index << level) + 1
            walk.fail(first, f"the tree node over entries {first}-{(index + 1) << level} "
                      "is missing or altered")  # fmt: skip
            return False
    if next(stored, None) is not None:
        walk.fail(walk.size + 1, f"a stored tree node at level {level} covers no entries")
        return False
    return True


def _check_head(session: Session, walk: _Walk) -> None:
    head = session.get(AuditHead, 1)
    if head is None:
        walk.fail(walk.size + 1 if walk.size else 1, "the log head is missing")
        return
    if head.seq != walk.size:
        walk.fail(walk.size + 1, f"entries after {walk.size} are missing (head is at {head.seq})")
        return
    frontier = split_hashes(bytes(head.frontier))
    expected = [
        walk.levels[lv][ix * _H : (ix + 1) * _H] for lv, ix in merkle.range_nodes(0, walk.size)
    ]
    if frontier != expected or not _same(bytes(head.root), walk.root(walk.size)):
        walk.fail(walk.size + 1, f"the log head's root does not match entries 1-{walk.size}")


def _check_streams(session: Session, walk: _Walk) -> None:
    stored = {
        subject: (int(seq), bytes(last))
        for subject, seq, last in session.execute(
            select(AuditStream.subject, AuditStream.seq, AuditStream.last)
        )
    }
    for subject in sorted(set(stored) | set(walk.streams)):
        if stored.get(subject) != walk.streams.get(subject):
            seq = stored.get(subject, (0, b""))[0]
            walk.fail(
                walk.size + 1,
                f"the stream of {subject} is at {seq} but its entries end at "
                f"{walk.streams.get(subject, (0, b''))[0]}",
            )
            return


def _same(left: bytes, right: bytes) -> bool:
    return hmac.compare_digest(left, right)
