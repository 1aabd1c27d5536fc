"""The Merkle tree of the audit log, pure (RFC 9162 section 2.1): hashing, roots, proofs, verifiers.

Leaves and interior nodes are hashed with distinct prefixes (0x00 and 0x01) under SHA-256. A tree of
`n` leaves is described by *ranges* `[start, end)` of leaf indexes; every range that the RFC's
recursion produces starts on a multiple of its largest power of two, so it splits into complete,
aligned subtrees, each named by `(level, index)`: the `2**level` leaves from `index * 2**level`.
Complete subtrees never change once written, which is what lets the database store them and a proof
at any size cost one lookup per path element.

Proofs are computed from ranges (`inclusion_ranges`, `consistency_ranges`) so the same code serves
an in-memory tree and the stored one; the verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Node = tuple[int, int]  # (level, index): a complete subtree
Range = tuple[int, int]  # [start, end) of leaf indexes


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than `size` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def range_nodes(start: int, end: int) -> list[Node]:
    """The complete subtrees that make up `[start, end)`, left to right (largest first)."""
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            aligned = (start & -start).bit_length() - 1
            level = min(level, aligned)
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of a range from its complete subtrees, left to right: right-to-left node hashes."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """RFC 9162 PATH(m, D[n]) as ranges, the sibling nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def inclusion_nodes(index: int, size: int) -> list[list[Node]]:
    """`inclusion_ranges` as the complete subtrees of each range (a proof's hot path: a sibling
    to the left is always one complete subtree, so only the right edge is split)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    path: list[list[Node]] = []
    start, end = 0, size
    while end - start > 1:
        level = (end - start - 1).bit_length() - 1
        k = 1 << level
        if index - start >= k:
            path.append([(level, start >> level)])
            start += k
        elif end - start == 2 * k:  # the right sibling is complete too
            path.append([(level, (start >> level) + 1)])
            end = start + k
        else:
            path.append(range_nodes(start + k, end))
            end = start + k
    return path[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """RFC 9162 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) as ranges, innermost first."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to {new_size}")
    if old_size in (0, new_size):
        return []
    ranges: list[Range] = []
    start, end, complete = 0, new_size, True
    m = old_size
    while m != end - start:
        k = _split(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    return ranges[::-1]


def nodes_for(ranges: Iterable[Range]) -> set[Node]:
    """Every complete subtree whose hash the given ranges need: what a store must read."""
    return {node for start, end in ranges for node in range_nodes(start, end)}


def hash_ranges(ranges: Iterable[Range], nodes: Mapping[Node, bytes]) -> list[bytes]:
    return [fold([nodes[node] for node in range_nodes(start, end)]) for start, end in ranges]


# ---- the compact range (frontier): the complete subtrees of [0, size), kept by an appender ----


def append_leaf(
    frontier: Sequence[bytes], size: int, leaf: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Add leaf number `size`: the new frontier and every complete subtree it completes.

    `frontier` holds the hashes of `range_nodes(0, size)`; the returned nodes start with the leaf
    itself at level 0.
    """
    stack = list(frontier)
    return stack, [(0, size, leaf), *push_leaf(stack, size, leaf)]


def push_leaf(
    frontier: list[bytes], size: int, leaf: bytes, *, min_level: int = 1
) -> list[tuple[int, int, bytes]]:
    """`append_leaf` in place: add leaf number `size` to `frontier`; return the complete subtrees
    it completes from `min_level` up (the appender's hot path: no copy of the frontier)."""
    created = []
    current, index, level = leaf, size, 0
    while index & 1:
        current = node_hash(frontier.pop(), current)
        index, level = index >> 1, level + 1
        if level >= min_level:
            created.append((level, index, current))
    frontier.append(current)
    return created


# ---- an in-memory tree: the reference for tests, bundles and the benchmark's proofs ----


class MemoryTree:
    """All complete subtrees of a list of leaf hashes, computed level by level."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> None:
        frontier = [self.node(node) for node in range_nodes(0, self.size)]
        _, created = append_leaf(frontier, self.size, leaf)
        for level, _index, value in created:
            if level == len(self.levels):
                self.levels.append([])
            self.levels[level].append(value)

    def node(self, node: Node) -> bytes:
        level, index = node
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        return fold([self.node(node) for node in range_nodes(0, size)])

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return self._hashes(inclusion_ranges(index, self.size if size is None else size))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return self._hashes(
            consistency_ranges(old_size, self.size if new_size is None else new_size)
        )

    def _hashes(self, ranges: list[Range]) -> list[bytes]:
        lookup = {node: self.node(node) for node in nodes_for(ranges)}
        return hash_ranges(ranges, lookup)


# ---- verifiers (RFC 9162 2.1.3.2 and 2.1.4.2) ----


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` proves `leaf` (a leaf hash) under, or None if the path cannot fit."""
    if not 0 <= index < size or any(len(p) != HASH_SIZE for p in path):
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    computed = root_from_inclusion(index, size, leaf, path)
    return computed is not None and _same(computed, root)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """True if the tree of `new_size` leaves with `new_root` extends the one of `old_size`."""
    if not 0 <= old_size <= new_size or any(len(p) != HASH_SIZE for p in path):
        return False
    if old_size == new_size:
        return not path and _same(old_root, new_root)
    if old_size == 0:
        return not path
    steps = list(path)
    if old_size & (old_size - 1) == 0:
        steps.insert(0, old_root)
    if not steps:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = steps[0]
    for sibling in steps[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first, second = node_hash(sibling, first), node_hash(sibling, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and _same(first, old_root) and _same(second, new_root)


def _same(left: bytes, right: bytes) -> bool:
    return hmac.compare_digest(left, right)
