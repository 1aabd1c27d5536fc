"""Offline verification, pure (no database): what a bundle or receipt verifier needs.

Given an exported entry (its fields as stored), the inclusion path from `records.service
.inclusion_proof`, the signed checkpoint note and the trusted verifier keys (C2SP vkeys), prove
the entry is in the signed tree; given two checkpoints and a consistency path, prove the log only
grew; given a run of one subject's entries, prove none is missing between them.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from dealchat.records import merkle
from dealchat.records.leaf import STREAM_GENESIS, LeafFields, entry_leaf_hash, leaf_bytes
from dealchat.records.notes import Checkpoint, Keyring, NoteError, Verifier, open_checkpoint

__all__ = [
    "Checkpoint",
    "Keyring",
    "LeafFields",
    "NoteError",
    "Verifier",
    "check_stream",
    "entry_leaf_hash",
    "keyring",
    "leaf_bytes",
    "open_checkpoint",
    "verify_consistency",
    "verify_entry",
    "verify_inclusion",
]

verify_inclusion = merkle.verify_inclusion
verify_consistency = merkle.verify_consistency


def keyring(vkeys: Iterable[str]) -> Keyring:
    """Trusted keys from their C2SP vkey text (`name+id+base64`)."""
    return Keyring(Verifier.from_vkey(text) for text in vkeys)


def verify_entry(
    fields: LeafFields,
    *,
    leaf_index: int,
    path: Sequence[bytes],
    note: str,
    keys: Keyring,
    origin: str | None = None,
) -> Checkpoint:
    """The checkpoint that proves `fields` is entry `leaf_index + 1`; raises NoteError otherwise."""
    checkpoint = open_checkpoint(note, keys)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is for another log ({checkpoint.origin})")
    if fields.seq != leaf_index + 1:
        raise NoteError(f"entry {fields.seq} is not leaf {leaf_index}")
    leaf = entry_leaf_hash(fields)
    if not merkle.verify_inclusion(leaf_index, checkpoint.size, leaf, path, checkpoint.root):
        raise NoteError(f"entry {fields.seq} is not in the signed tree of {checkpoint.size}")
    return checkpoint


def check_stream(entries: Sequence[LeafFields], *, complete_from_start: bool = True) -> str | None:
    """None if `entries` (one subject, in order) are consecutive links of its stream.

    With `complete_from_start`, the first must be the stream's first entry. Each entry's
    `stream_prev` must be the previous entry's leaf hash, so nothing is missing in between.
    """
    previous: bytes | None = STREAM_GENESIS if complete_from_start else None
    expected: int | None = 1 if complete_from_start else None
    for fields in entries:
        if expected is not None and fields.stream_seq != expected:
            return f"entry {fields.seq}: stream number {fields.stream_seq}, expected {expected}"
        if previous is not None and not hmac.compare_digest(fields.stream_prev, previous):
            return f"entry {fields.seq} does not link to the stream's previous entry"
        if entries[0].subject != fields.subject:
            return f"entry {fields.seq} belongs to another subject ({fields.subject})"
        previous, expected = entry_leaf_hash(fields), fields.stream_seq + 1
    return None
