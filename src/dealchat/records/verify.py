"""`dealchat audit verify`: re-derive the whole log and name the first entry that fails.

The log is checked in chunks of 2**CHUNK_LEVEL entries, read straight from the driver's cursor.
For each chunk (`check_chunk`): contiguous numbers; each leaf hash recomputed from the entry's
fields; each entry's stream link (its stream number and `prev_seq`, the entry it follows) against
the entries before it in the chunk, the first link of each subject in the chunk being handed back
to be joined to the chunks before (the leaf it commits to is then the stored leaf hash of the entry
it names, which that entry's own chunk re-derives); every complete subtree inside the chunk
recomputed level by level and every stored one (TILE_LEVEL and up) compared; the hash of the chunk
up to each checkpoint's size that falls in it.

`verify_log` joins the chunks in order: the stream links across chunks, the chunks' roots into the
upper levels (compared with the stored ones), each checkpoint's root against the recomputed tree at
its size and its signed text (and signature, when a keyring is given); then the head (size, root,
right edge), the stream heads and the count of stored nodes (none extra). Chunks are independent,
so with `workers` > 1 they are checked by that many processes, each reading from its own
connection (a file or server database only); the joining stays in the caller's transaction.

Only a chunk's levels per process, the right edge of the tree and the stream heads are held in
memory. A failure names the lowest entry it touches: for a node, the first leaf under it; for a
checkpoint that no longer matches, the first entry after the last one that does.
"""

from __future__ import annotations

import hmac
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dealchat.records import merkle
from dealchat.records.leaf import STREAM_GENESIS
from dealchat.records.notes import OTHER_ROOT as _OTHER_ROOT
from dealchat.records.notes import Keyring, check_checkpoint_note
from dealchat.records.service import TILE_LEVEL, VerifyResult, split_hashes
from dealchat.records.verify_chunk import (
    Chunk,
    Fetch,
    Task,
    broken,
    check_chunk,
    fetch_on,
    node_failure,
    worker_chunk,
    worker_start,
)

CHUNK_LEVEL = 15  # 32,768 entries per chunk: ~2 MB of levels per process


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# ---- joining the chunks, in the caller's transaction ----


@dataclass
class _Join:
    keys: Keyring | None
    chunk_level: int
    size: int = 0
    streams: dict[str, tuple[int, bytes, int]] = field(default_factory=dict)
    upper: list[bytes] = field(default_factory=list)  # the right edge over whole chunks
    upper_nodes: dict[merkle.Node, bytes] = field(default_factory=dict)  # levels > CHUNK_LEVEL
    tail: list[bytes] = field(default_factory=list)  # range_nodes of a last, partial chunk
    failure: tuple[int, str] | None = None
    signed_up_to: int = 0  # the size of the last checkpoint that matched
    wanted: frozenset[int] = frozenset()  # sizes whose recomputed root the caller asks for
    roots: dict[int, bytes] = field(default_factory=dict)

    def fail(self, seq: int, problem: str) -> None:
        if self.failure is None or seq < self.failure[0]:
            self.failure = (seq, problem)


def verify_log(
    session: Session,
    *,
    keys: Keyring | None = None,
    workers: int = 1,
    chunk_level: int = CHUNK_LEVEL,
    roots_at: frozenset[int] = frozenset(),
) -> VerifyResult:
    """Re-derive the log in chunks of 2**chunk_level entries. With `workers` > 1 (and a file or
    server database) that many processes check the chunks, each on its own connection, so they
    see committed rows only: use them from a transaction that has written nothing (as
    `dealchat audit verify` does); the default checks every chunk on the session's connection.
    `roots_at`: sizes whose root, recomputed from the entries, the result carries (a witness's
    cosigned checkpoint is compared with them)."""
    if chunk_level < TILE_LEVEL:
        raise ValueError(f"chunks must hold whole tiles (chunk_level >= {TILE_LEVEL})")
    connection = session.connection()
    dbapi = connection.connection

    def fetch(sql: str) -> list[tuple[Any, ...]]:
        return fetch_on(dbapi, sql)

    join = _Join(keys, chunk_level, wanted=roots_at)
    last = int(fetch("SELECT MAX(seq) FROM audit_entry")[0][0] or 0)
    tasks = _tasks(fetch, last, chunk_level, roots_at)
    pool = _pool(connection.engine, workers, last >> chunk_level)
    try:
        if pool is None:
            _join_all(join, (check_chunk(fetch, *task) for task in tasks), fetch)
        else:
            _join_all(join, _in_order(pool, tasks, ahead=2 * pool._max_workers), fetch)  # type: ignore[attr-defined]
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if join.failure is None:
        _finish(join, fetch, last)
    if join.failure is not None:
        seq, problem = join.failure
        return VerifyResult(False, min(join.size, seq - 1), seq, problem, join.roots)
    return VerifyResult(True, join.size, roots=join.roots)


def _tasks(fetch: Fetch, last: int, chunk_level: int, wanted: frozenset[int]) -> Iterator[Task]:
    """The chunks up to the last entry this transaction sees (a worker sees no further)."""
    step = 1 << chunk_level
    for start in range(0, last, step):
        end = min(start + step, last)
        inside = {
            int(size)
            for (size,) in fetch(
                f"SELECT size FROM audit_checkpoint WHERE size > {start} AND size <= {end}"  # noqa: S608 - integers only
            )
        }
        inside |= {size for size in wanted if start < size <= end}
        yield start, end, sorted(inside), chunk_level, TILE_LEVEL


def _in_order(pool: Executor, tasks: Iterator[Task], *, ahead: int) -> Iterator[Chunk]:
    """The chunks' results in order, with at most `ahead` chunks queued at a time."""
    pending: deque[Future[Chunk]] = deque()
    for task in tasks:
        pending.append(pool.submit(worker_chunk, task))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _pool(engine: Engine, workers: int, chunks: int) -> Executor | None:
    count = min(workers, chunks)
    url = engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    if count < 2 or in_memory:
        return None
    args, kwargs = engine.dialect.create_connect_args(url)
    driver: str = engine.dialect.loaded_dbapi.__name__
    connect: tuple[str, list[Any], dict[str, Any]] = (driver, list(args), _plain(kwargs))
    return ProcessPoolExecutor(
        count,
        mp_context=get_context("spawn"),
        initializer=worker_start,
        initargs=connect,
    )


def _plain(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The connect arguments a worker needs: the address and credentials, not the dialect's
    adapter objects (plain SQL on integers, text and bytes needs none)."""
    return {k: v for k, v in kwargs.items() if v is None or isinstance(v, str | int | float)}


def _join_all(join: _Join, chunks: Iterator[Chunk], fetch: Fetch) -> None:
    full = 1 << join.chunk_level
    for chunk in chunks:
        _join_streams(join, chunk)
        if chunk.failure is not None:
            join.fail(*chunk.failure)
        checkpoints = fetch(
            "SELECT size, root, note FROM audit_checkpoint "  # noqa: S608 - integers only
            f"WHERE size > {chunk.start} AND size <= {chunk.start + chunk.count} ORDER BY size"
        )
        for size, root, note in checkpoints:
            whole = merkle.fold([*join.upper, chunk.partial[int(size)]])
            _check_checkpoint(join, int(size), bytes(root), str(note), whole)
        for size in join.wanted & chunk.partial.keys():
            join.roots[size] = merkle.fold([*join.upper, chunk.partial[size]])
        join.size = chunk.start + chunk.count
        if join.failure is not None:
            return
        if chunk.count < full:
            join.tail = chunk.top
            return
        index = chunk.start >> join.chunk_level
        for level, idx, value in merkle.push_leaf(join.upper, index, chunk.top[0]):
            join.upper_nodes[(level + join.chunk_level, idx)] = value


def _join_streams(join: _Join, chunk: Chunk) -> None:
    """Each subject's first entry in the chunk follows its last entry before the chunk."""
    streams = join.streams
    for subject, (seq, stream_seq, prev_seq) in chunk.first.items():
        number, _leaf, last = streams.get(subject, _NEW_STREAM)
        if stream_seq != number + 1 or prev_seq != last:
            join.fail(seq, broken(seq, subject, number))
    streams.update(chunk.last)


_NEW_STREAM = (0, STREAM_GENESIS, 0)


def _finish(join: _Join, fetch: Fetch, last: int) -> None:
    if last > join.size:
        after = fetch(f"SELECT MIN(seq) FROM audit_entry WHERE seq > {join.size}")[0][0]  # noqa: S608 - integers only
        missing = join.size + 1
        join.fail(missing, f"entry {missing} is missing (next stored entry is {after})")
        return
    signed = int(fetch("SELECT MAX(size) FROM audit_checkpoint")[0][0] or 0)
    if signed > join.size:
        join.fail(
            join.size + 1,
            f"entries after {join.size} are missing (a checkpoint covers {signed})",
        )
        return
    for check in (_check_upper_nodes, _check_node_count, _check_head, _check_streams):
        check(join, fetch)
        if join.failure is not None:
            return


def _check_upper_nodes(join: _Join, fetch: Fetch) -> None:
    """The stored subtrees above CHUNK_LEVEL against the ones combined from chunk roots."""
    above = join.chunk_level
    stored = fetch(f"SELECT level, idx, hash FROM audit_node WHERE level > {above}")  # noqa: S608 - integers only
    found = {(int(level), int(idx)): bytes(value) for level, idx, value in stored}
    for level, index in sorted(join.upper_nodes, key=lambda node: node[1] << node[0]):
        if found.get((level, index)) != join.upper_nodes[(level, index)]:
            join.fail(*node_failure(level, index))
            return


def _check_node_count(join: _Join, fetch: Fetch) -> None:
    """Each expected node was found; as many are stored, so none is extra."""
    for level, count in sorted(fetch("SELECT level, COUNT(*) FROM audit_node GROUP BY level")):
        expected = join.size >> level if level >= TILE_LEVEL else 0
        if count != expected:
            join.fail(join.size + 1, f"a stored tree node at level {level} covers no entries")
            return


def _check_checkpoint(join: _Join, size: int, stored: bytes, note: str, root: bytes) -> None:
    first = join.signed_up_to + 1
    problem = check_checkpoint_note(note, size=size, root=root, keys=join.keys)
    if not _same(stored, root) or problem == _OTHER_ROOT:
        # the entries were rewritten consistently; the change lies after the last good checkpoint
        join.fail(first, f"entries {first}-{size} do not match the checkpoint signed at {size}")
    elif problem is not None:
        join.fail(size, f"the checkpoint at size {size}: {problem}")
    else:
        join.signed_up_to = size


def _check_head(join: _Join, fetch: Fetch) -> None:
    head = fetch("SELECT seq, root, frontier FROM audit_head WHERE id = 1")
    if not head:
        join.fail(join.size + 1 if join.size else 1, "the log head is missing")
        return
    seq, root, stored = head[0]
    frontier = [*join.upper, *join.tail]
    if seq != join.size:
        join.fail(join.size + 1, f"entries after {join.size} are missing (head is at {seq})")
    elif split_hashes(bytes(stored)) != frontier or not _same(bytes(root), merkle.fold(frontier)):
        join.fail(join.size + 1, f"the log head's root does not match entries 1-{join.size}")


def _check_streams(join: _Join, fetch: Fetch) -> None:
    stored = {
        str(subject): (int(seq), bytes(last), int(entry))
        for subject, seq, last, entry in fetch(
            "SELECT subject, seq, last, last_entry FROM audit_stream"
        )
    }
    for subject in sorted(set(stored) | set(join.streams)):
        if stored.get(subject) != join.streams.get(subject):
            seq = stored.get(subject, (0, b"", 0))[0]
            join.fail(
                join.size + 1,
                f"the stream of {subject} is at {seq} but its entries end at "
                f"{join.streams.get(subject, (0, b'', 0))[0]}",
            )
            return


def _same(left: bytes, right: bytes) -> bool:
    return hmac.compare_digest(left, right)
