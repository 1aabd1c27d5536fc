"""One chunk of `records.verify`, light enough for a worker process: the entries (start, end]
re-derived from the database through a plain `fetch(sql) -> rows` (a DBAPI cursor), no ORM.

A worker imports only this, the leaf format and its database driver: `verify` hands it the
driver's name and connect arguments, so starting one costs a fraction of importing the app.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dealchat.records import merkle
from dealchat.records.leaf import STREAM_GENESIS, leaf_data, micros_text

_sha256 = hashlib.sha256

Fetch = Callable[[str], list[tuple[Any, ...]]]  # plain SQL (integers spliced in) -> rows
Task = tuple[int, int, list[int], int, int]  # start, end, checkpoint sizes, chunk and tile level


@dataclass
class Chunk:
    """What checking entries (start, start + count] found, for `verify_log` to join."""

    start: int
    count: int = 0
    failure: tuple[int, str] | None = None
    # subject -> (seq, stream number, prev_seq) of its first entry in the chunk
    first: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    # subject -> (stream number, leaf hash, seq) of its last entry in the chunk
    last: dict[str, tuple[int, bytes, int]] = field(default_factory=dict)
    top: list[bytes] = field(default_factory=list)  # hashes of range_nodes(start, start + count)
    partial: dict[int, bytes] = field(default_factory=dict)  # size -> hash of (start, size]


def check_chunk(  # noqa: PLR0917 - a Task, unpacked
    fetch: Fetch, start: int, end: int, sizes: list[int], chunk_level: int, tile_level: int
) -> Chunk:
    """Check entries start + 1 .. end and the stored nodes inside them (levels `tile_level` to
    `chunk_level`); `sizes` are the checkpoint sizes in (start, end] whose hash is wanted."""
    chunk = Chunk(start)
    rows = fetch(
        "SELECT seq, at, event, actor, subject, payload, stream_seq, prev_seq, leaf_hash "  # noqa: S608 - integers only
        f"FROM audit_entry WHERE seq > {int(start)} AND seq <= {int(end)} ORDER BY seq"
    )
    leaves = _check_entries(chunk, rows, _outside_links(fetch, start, rows))
    levels = _levels(leaves)
    _check_nodes(fetch, chunk, levels, range(tile_level, min(len(levels), chunk_level + 1)))
    chunk.count = len(leaves)
    chunk.top = _inside(levels, start, start + len(leaves))
    chunk.partial = {
        size: merkle.fold(_inside(levels, start, size))
        for size in sizes
        if size <= start + len(leaves)
    }
    return chunk


def _outside_links(fetch: Fetch, start: int, rows: list[tuple[Any, ...]]) -> dict[int, bytes]:
    """The stored leaf hashes of the entries before the chunk that its entries link to."""
    wanted = sorted({int(row[7]) for row in rows if 0 < row[7] <= start})
    found: dict[int, bytes] = {}
    for i in range(0, len(wanted), 5000):
        listed = ",".join(str(seq) for seq in wanted[i : i + 5000])
        query = f"SELECT seq, leaf_hash FROM audit_entry WHERE seq IN ({listed})"  # noqa: S608 - integers only
        found.update((int(seq), bytes(leaf)) for seq, leaf in fetch(query))
    return found


def _check_entries(
    chunk: Chunk, rows: list[tuple[Any, ...]], outside: dict[int, bytes]
) -> list[bytes]:
    """Numbers, stream links inside the chunk and leaf hashes; the leaves up to the first bad."""
    leaves: list[bytes] = []
    first, streams = chunk.first, chunk.last
    expected, last_at, when = chunk.start + 1, None, ""
    for seq, at, event, actor, subject, payload, stream_seq, prev_seq, stored in rows:
        if seq != expected:
            chunk.failure = (expected, f"entry {expected} is missing (next stored entry is {seq})")
            break
        known = streams.get(subject)
        if known is None:
            first[subject] = (seq, stream_seq, prev_seq)
            previous = outside.get(prev_seq, STREAM_GENESIS) if prev_seq else STREAM_GENESIS
        elif stream_seq != known[0] + 1 or prev_seq != known[2]:
            chunk.failure = (seq, broken(seq, subject, known[0]))
            break
        else:
            previous = known[1]
        if at != last_at:
            last_at, when = at, micros_text(at)
        data = leaf_data(seq, when, event, actor, subject, payload, stream_seq, previous)
        leaf = _sha256(b"\x00" + data).digest()
        if leaf != stored:
            chunk.failure = (seq, _ALTERED.format(seq=seq))
            break
        streams[subject] = (stream_seq, leaf, seq)
        leaves.append(leaf)
        expected += 1
    return leaves


_ALTERED = "entry {seq} was altered (its leaf hash does not match its content)"


def broken(seq: int, subject: str, number: int) -> str:
    return f"entry {seq} breaks the stream of {subject} (entry {number + 1})"


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every complete subtree of the chunk, level by level: levels[l][i] covers 2**l leaves."""
    levels = [leaves]
    below = leaves
    while len(below) > 1:
        below = list(map(_node, below[0::2], below[1::2]))
        levels.append(below)
    return levels


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def _inside(levels: list[list[bytes]], start: int, end: int) -> list[bytes]:
    """The hashes of range_nodes(start, end) from a chunk's levels (start: the chunk's start)."""
    return [levels[lv][ix - (start >> lv)] for lv, ix in merkle.range_nodes(start, end)]


def _check_nodes(fetch: Fetch, chunk: Chunk, levels: list[list[bytes]], kept: range) -> None:
    """Compare the stored subtrees inside the chunk with the recomputed ones, level by level."""
    for level in kept:
        computed = levels[level]
        first = chunk.start >> level
        stored = fetch(
            f"SELECT idx, hash FROM audit_node WHERE level = {level} "  # noqa: S608 - integers only
            f"AND idx >= {first} AND idx < {first + len(computed)} ORDER BY idx"
        )
        if [bytes(value) for _, value in stored] == computed and [idx for idx, _ in stored] == list(
            range(first, first + len(computed))
        ):
            continue
        found = {int(idx): bytes(value) for idx, value in stored}
        for offset, value in enumerate(computed):
            if found.get(first + offset) != value:
                _keep_lowest(chunk, node_failure(level, first + offset))
                break


def node_failure(level: int, index: int) -> tuple[int, str]:
    first = (index << level) + 1
    return first, f"the tree node over entries {first}-{(index + 1) << level} is missing or altered"


def _keep_lowest(chunk: Chunk, failure: tuple[int, str]) -> None:
    if chunk.failure is None or failure[0] < chunk.failure[0]:
        chunk.failure = failure


# ---- in a worker process: one driver connection ----

_CONNECTION: Any = None


def worker_start(driver: str, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Open the worker's connection with the driver's own connect()."""
    global _CONNECTION  # noqa: PLW0603 - one connection per worker process
    _CONNECTION = importlib.import_module(driver).connect(*args, **kwargs)


def worker_chunk(task: Task) -> Chunk:
    return check_chunk(lambda sql: fetch_on(_CONNECTION, sql), *task)


def fetch_on(dbapi: Any, sql: str) -> list[tuple[Any, ...]]:
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()
