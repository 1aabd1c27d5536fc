"""records.merkle against the RFC 6962/9162 test vectors of transparency-dev/merkle, the RFC's own
recursive definitions, and pymerkle's roots."""

from __future__ import annotations

import hashlib

import pymerkle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dealchat.records import merkle

# transparency-dev/merkle testonly/constants.go and proof/verify_test.go (RFC 6962 hashing)
LEAVES = [
    bytes.fromhex(h) for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657")
] + [bytes.fromhex("606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
H = {
    "l1": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "l4": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "l6": "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "l0": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "n10": "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "n11": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "n12": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "n13": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "n20": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "n21": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
}
# (leaf index 0-based, tree size, path)
INCLUSION = [
    (0, 1, []),
    (0, 8, ["l1", "n11", "n21"]),
    (5, 8, ["l4", "n13", "n20"]),
    (2, 3, ["n10"]),
    (1, 5, ["l0", "n11", "l4"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["l1", "n11", "n21"]),
    (6, 8, ["n12", "n13", "n20"]),
    (2, 5, ["n11", "l4"]),
    (6, 7, ["n12", "l6", "n20"]),
]


def _path(names: list[str]) -> list[bytes]:
    return [bytes.fromhex(H[name]) for name in names]


def _root(size: int) -> bytes:
    return bytes.fromhex(ROOTS[size])


@pytest.fixture
def tree() -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(leaf) for leaf in LEAVES)


def test_roots_of_every_size_match_the_vectors(tree: merkle.MemoryTree) -> None:
    for size in range(9):
        assert tree.root(size).hex() == ROOTS[size]
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


@pytest.mark.parametrize(("index", "size", "names"), INCLUSION)
def test_inclusion_proofs_match_the_vectors_and_verify(
    tree: merkle.MemoryTree, index: int, size: int, names: list[str]
) -> None:
    path = tree.inclusion_proof(index, size)
    assert path == _path(names)
    leaf = merkle.leaf_hash(LEAVES[index])
    assert merkle.verify_inclusion(index, size, leaf, path, _root(size))


@pytest.mark.parametrize(("old", "new", "names"), CONSISTENCY)
def test_consistency_proofs_match_the_vectors_and_verify(
    tree: merkle.MemoryTree, old: int, new: int, names: list[str]
) -> None:
    path = tree.consistency_proof(old, new)
    assert path == _path(names)
    assert merkle.verify_consistency(old, new, _root(old), _root(new), path)


def _flip(path: list[bytes], at: int) -> list[bytes]:
    changed = list(path)
    changed[at] = bytes([changed[at][0] ^ 8]) + changed[at][1:]
    return changed


@pytest.mark.parametrize(("index", "size", "names"), INCLUSION[1:])
def test_corrupted_inclusion_proofs_fail(index: int, size: int, names: list[str]) -> None:
    path, root, leaf = _path(names), _root(size), merkle.leaf_hash(LEAVES[index])
    wrong: list[tuple[int, int, bytes, list[bytes], bytes]] = [
        (index - 1, size, leaf, path, root),
        (index + 1, size, leaf, path, root),
        (index ^ 2, size, leaf, path, root),
        (index, size * 2, leaf, path, root),
        (index, size // 2, leaf, path, root),
        (index, size, merkle.leaf_hash(b"wrong"), path, root),
        (index, size, leaf, path, merkle.EMPTY_ROOT),
        (index, size, leaf, [*path, root], root),
        (index, size, leaf, [root, *path], root),
        (index, size, leaf, [*path, b""], root),
        (index, size, leaf, path[:-1], root),
    ] + [(index, size, leaf, _flip(path, i), root) for i in range(len(path))]
    for probe in wrong:
        assert not merkle.verify_inclusion(*probe), probe


@pytest.mark.parametrize(("old", "new", "names"), CONSISTENCY[1:])
def test_corrupted_consistency_proofs_fail(old: int, new: int, names: list[str]) -> None:
    path, r1, r2 = _path(names), _root(old), _root(new)
    wrong: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (old - 1, new, r1, r2, path),
        (old + 1, new, r1, r2, path),
        (old ^ 2, new, r1, r2, path),
        (old, new * 2, r1, r2, path),
        (old, new // 2, r1, r2, path),
        (old, new, merkle.EMPTY_ROOT, r2, path),
        (old, new, r1, merkle.EMPTY_ROOT, path),
        (old, new, r2, r1, path),
        (old, new, r1, r2, []),
        (old, new, r1, r2, [*path, r1]),
        (old, new, r1, r2, [r2, *path]),
        (old, new, r1, r2, [path[0], *path]),
        (old, new, r1, r2, path[:-1]),
    ] + [(old, new, r1, r2, _flip(path, i)) for i in range(len(path))]
    for probe in wrong:
        assert not merkle.verify_consistency(*probe), probe[:2]


def test_edge_cases_of_the_verifiers() -> None:
    some = merkle.leaf_hash(b"data")
    assert merkle.verify_inclusion(0, 1, some, [], some)
    assert not merkle.verify_inclusion(0, 0, some, [], some)
    assert not merkle.verify_inclusion(1, 1, some, [], some)
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, some, [])
    assert not merkle.verify_consistency(1, 1, some, merkle.EMPTY_ROOT, [])
    assert not merkle.verify_consistency(1, 1, some, some, [some])
    assert not merkle.verify_consistency(2, 1, some, some, [])
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_ranges(3, 3)


# ---- the RFC's recursive definitions, word for word, as a second reference ----


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return merkle.EMPTY_ROOT
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return [*_rfc_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_rfc_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _rfc_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if complete else [_mth(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return [*_rfc_subproof(m, leaves[:k], complete), _mth(leaves[k:])]
    return [*_rfc_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_proofs_agree_with_the_rfc_recursion(size: int, data: st.DataObject) -> None:
    leaves = [f"leaf {i}".encode() for i in range(size)]
    tree = merkle.MemoryTree(merkle.leaf_hash(leaf) for leaf in leaves)
    assert tree.root() == _mth(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = tree.inclusion_proof(index)
    assert path == _rfc_path(index, leaves)
    assert merkle.verify_inclusion(index, size, merkle.leaf_hash(leaves[index]), path, _mth(leaves))
    old = data.draw(st.integers(min_value=1, max_value=size))
    proof = tree.consistency_proof(old)
    assert proof == (_rfc_subproof(old, leaves, True) if old < size else [])
    assert merkle.verify_consistency(old, size, _mth(leaves[:old]), _mth(leaves), proof)


def test_range_nodes_split_a_range_into_aligned_complete_subtrees() -> None:
    assert merkle.range_nodes(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert merkle.range_nodes(8, 13) == [(2, 2), (0, 12)]
    assert merkle.range_nodes(12, 14) == [(1, 6)]
    # a proof at a million leaves needs at most two subtrees per level: O(log n) reads
    for index in (0, 1, 524_287, 999_999):
        assert len(merkle.nodes_for(merkle.inclusion_ranges(index, 1_000_000))) <= 2 * 20


def test_roots_agree_with_pymerkle() -> None:
    reference = pymerkle.InmemoryTree(algorithm="sha256")
    ours = merkle.MemoryTree()
    for i in range(1, 130):
        data = f"record {i}".encode() * (i % 7 + 1)
        reference.append_entry(data)
        ours.append(merkle.leaf_hash(data))
        assert reference.get_root() == ours.root(), i
        assert reference.get_root(i // 2 + 1) == ours.root(i // 2 + 1)


def test_inclusion_nodes_are_the_inclusion_ranges_split_into_subtrees() -> None:
    for size in range(1, 70):
        for index in range(size):
            assert merkle.inclusion_nodes(index, size) == [
                merkle.range_nodes(start, end)
                for start, end in merkle.inclusion_ranges(index, size)
            ]
