"""Signed checkpoints (C2SP signed notes), checkpoint keys on disk, and the offline verifiers."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from dealchat.records import merkle, offline
from dealchat.records.keys import load_keyring, load_signer, rotate_signer
from dealchat.records.leaf import (
    STREAM_GENESIS,
    LeafFields,
    entry_leaf_hash,
    leaf_bytes,
    leaf_bytes_reference,
)
from dealchat.records.notes import (
    DASH,
    Keyring,
    NoteError,
    Signer,
    Verifier,
    check_checkpoint_note,
    checkpoint_body,
    open_checkpoint,
    sign_note,
)

ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture
def signer() -> Signer:
    return Signer("example.com/audit", Ed25519PrivateKey.generate())


def test_a_checkpoint_note_has_the_c2sp_shape(signer: Signer) -> None:
    note = sign_note(checkpoint_body("example.com/audit", 42, ROOT), [signer])
    lines = note.split("\n")
    assert lines[:4] == ["example.com/audit", "42", base64.b64encode(ROOT).decode(), ""]
    dash, name, blob = lines[4].split(" ")
    assert (dash, name) == (DASH, "example.com/audit")
    raw = base64.b64decode(blob)
    public = signer.verifier.public
    assert raw[:4] == hashlib.sha256(b"example.com/audit\n\x01" + public).digest()[:4]
    assert len(raw) == 4 + 64
    assert note.endswith("\n")
    opened = open_checkpoint(note, Keyring([signer.verifier]))
    assert (opened.origin, opened.size, opened.root) == ("example.com/audit", 42, ROOT)


def test_vkeys_round_trip_and_are_checked(signer: Signer) -> None:
    vkey = signer.verifier.vkey
    assert vkey.startswith("example.com/audit+")
    assert Verifier.from_vkey(vkey) == signer.verifier
    _name, key_hash, encoded = vkey.split("+", 2)
    with pytest.raises(NoteError, match="id does not match"):
        Verifier.from_vkey(f"other+{key_hash}+{encoded}")
    with pytest.raises(NoteError):
        Verifier.from_vkey("nonsense")


def test_tampered_or_foreign_notes_are_refused(signer: Signer) -> None:
    keys = Keyring([signer.verifier])
    note = sign_note(checkpoint_body("example.com/audit", 42, ROOT), [signer])
    assert check_checkpoint_note(note, size=42, root=ROOT, keys=keys) is None
    assert check_checkpoint_note(note, size=43, root=ROOT, keys=keys) is not None
    assert check_checkpoint_note(note, size=42, root=ROOT, keys=keys, origin="x") is not None
    forged = note.replace("\n42\n", "\n43\n")
    assert "no valid signature" in str(check_checkpoint_note(forged, size=43, root=ROOT, keys=keys))
    stranger = Signer("example.com/audit", Ed25519PrivateKey.generate())
    foreign = sign_note(checkpoint_body("example.com/audit", 42, ROOT), [stranger])
    assert check_checkpoint_note(foreign, size=42, root=ROOT, keys=keys) is not None
    for broken in ("", "example.com/audit\n42\n", note.replace(DASH, "-"), note + "extra"):
        assert check_checkpoint_note(broken, size=42, root=ROOT, keys=keys) is not None
    # two signers: either known key is enough
    both = sign_note(checkpoint_body("example.com/audit", 42, ROOT), [stranger, signer])
    assert check_checkpoint_note(both, size=42, root=ROOT, keys=keys) is None


def test_checkpoint_keys_are_0600_and_rotation_keeps_old_public_keys(tmp_path: Path) -> None:
    first = load_signer(tmp_path, "dealchat.test/audit")
    assert load_signer(tmp_path, "dealchat.test/audit").verifier == first.verifier
    folder = tmp_path / "checkpoint"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    old_note = sign_note(checkpoint_body("dealchat.test/audit", 1, ROOT), [first])
    old, new = rotate_signer(tmp_path, "dealchat.test/audit")
    assert old.verifier == first.verifier
    assert new.verifier != first.verifier
    assert load_signer(tmp_path, "dealchat.test/audit").verifier == new.verifier
    assert not (folder / f"{first.verifier.key_id.hex()}.key").exists()
    keys = load_keyring(tmp_path)
    assert {v.vkey for v in keys.verifiers} == {first.verifier.vkey, new.verifier.vkey}
    assert check_checkpoint_note(old_note, size=1, root=ROOT, keys=keys) is None


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    signer = load_signer(tmp_path, "dealchat.test/audit")
    (tmp_path / "checkpoint" / f"{signer.verifier.key_id.hex()}.key").chmod(0o644)
    with pytest.raises(PermissionError):
        load_signer(tmp_path, "dealchat.test/audit")


def _fields(seq: int, stream_seq: int, prev: bytes, subject: str = "conversation:c") -> LeafFields:
    at = dt.datetime(2026, 11, 24, 12, 0, seq % 60, tzinfo=dt.UTC)
    return LeafFields(seq, at, "message:received", "client", subject, '{"n":1}', stream_seq, prev)


def test_offline_verification_of_an_entry_and_a_stream(signer: Signer) -> None:
    entries, prev = [], STREAM_GENESIS
    for seq in range(1, 8):
        fields = _fields(seq, seq, prev)
        entries.append(fields)
        prev = entry_leaf_hash(fields)
    tree = merkle.MemoryTree(entry_leaf_hash(f) for f in entries)
    note = sign_note(checkpoint_body("o/audit", 7, tree.root()), [signer])
    keys = offline.keyring([signer.verifier.vkey])
    path = tree.inclusion_proof(4)
    proven = offline.verify_entry(
        entries[4], leaf_index=4, path=path, note=note, keys=keys, origin="o/audit"
    )
    assert proven.size == 7
    altered = dataclasses.replace(entries[4], payload='{"n":2}')
    with pytest.raises(NoteError, match="not in the signed tree"):
        offline.verify_entry(altered, leaf_index=4, path=tree.inclusion_proof(4), note=note,
                             keys=keys)  # fmt: skip
    assert offline.check_stream(entries) is None
    gap = entries[:3] + entries[4:]
    assert "stream number" in str(offline.check_stream(gap))
    assert offline.check_stream(entries[2:], complete_from_start=False) is None
    relinked = [*entries[:3], _fields(4, 4, STREAM_GENESIS)]
    assert "does not link" in str(offline.check_stream(relinked))


_FIELDS = st.builds(
    LeafFields,
    st.integers(min_value=1, max_value=2**53),
    st.datetimes(timezones=st.just(dt.UTC)),
    st.text(max_size=30),
    st.text(max_size=30),
    st.text(max_size=30),
    st.text(max_size=200),
    st.integers(min_value=1, max_value=2**40),
    st.binary(min_size=32, max_size=32),
)


@settings(max_examples=300, deadline=None)
@given(_FIELDS)
def test_leaf_bytes_are_the_canonical_json_of_the_fields(fields: LeafFields) -> None:
    assert leaf_bytes(fields) == leaf_bytes_reference(fields)
