"""Signed checkpoints on SQLite and PostgreSQL: on demand, by the checkpointer, through the CLI."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.records import merkle, offline
from dealchat.records.checkpoints import Checkpointer, CheckpointKeys, create_checkpoint
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import LeafFields
from dealchat.records.models import AuditEntry
from dealchat.records.notes import check_checkpoint_note, open_checkpoint
from dealchat.records.service import (
    NewEntry,
    append,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
    root_at,
    stream_entries,
)
from dealchat.settings import Settings


@pytest.fixture
def keys(settings: Settings) -> CheckpointKeys:
    return CheckpointKeys.load(settings.keys_dir, settings.records.origin)


def _add(platform: Platform, count: int, subject: str = "conversation:k") -> None:
    with unit_of_work(platform.sessions) as session:
        entries = [
            NewEntry(AuditEvent.MESSAGE_SENT, "bot", subject, {"n": i}) for i in range(count)
        ]
        append(session, entries=entries)


def test_a_checkpoint_signs_the_current_root_once_per_size(
    platform: Platform, keys: CheckpointKeys
) -> None:
    with unit_of_work(platform.sessions) as session:
        assert create_checkpoint(session, keys=keys) is None
        assert latest_checkpoint(session) is None
    _add(platform, 5)
    with unit_of_work(platform.sessions) as session:
        first = create_checkpoint(session, keys=keys)
        assert first is not None
        assert create_checkpoint(session, keys=keys) is first
    _add(platform, 3)
    with unit_of_work(platform.sessions) as session:
        second = create_checkpoint(session, keys=keys)
        assert second is not None
        latest = latest_checkpoint(session)
        assert latest is not None
        assert latest.size == 8
        assert check_checkpoint_note(
            latest.note, size=8, root=root_at(session, 8), keys=keys.keyring, origin=keys.origin
        ) is None  # fmt: skip
        # a verifier holding both notes checks the log only grew between them
        proof = consistency_proof(session, old_size=5, new_size=8)
    old, new = open_checkpoint(first.note, keys.keyring), open_checkpoint(second.note, None)
    assert merkle.verify_consistency(5, 8, old.root, new.root, proof)


def test_a_receipt_style_proof_verifies_offline(platform: Platform, keys: CheckpointKeys) -> None:
    _add(platform, 11)
    with unit_of_work(platform.sessions) as session:
        signed = create_checkpoint(session, keys=keys)
        assert signed is not None
        entry = session.get(AuditEntry, 7)
        assert entry is not None
        index, _size, path = inclusion_proof(session, 7, tree_size=signed.size)
        fields = LeafFields(
            entry.seq, entry.at, entry.event, entry.actor, entry.subject, entry.payload,
            entry.stream_seq, bytes(entry.stream_prev),
        )  # fmt: skip
        note = signed.note
    vkeys = [v.vkey for v in keys.keyring.verifiers]
    proven = offline.verify_entry(
        fields, leaf_index=index, path=path, note=note, keys=offline.keyring(vkeys)
    )
    assert proven.size == 11


def test_a_whole_conversation_is_proven_complete_offline(
    platform: Platform, keys: CheckpointKeys
) -> None:
    _add(platform, 5, subject="conversation:one")
    _add(platform, 4, subject="conversation:other")
    _add(platform, 3, subject="conversation:one")
    with unit_of_work(platform.sessions) as session:
        signed = create_checkpoint(session, keys=keys)
        assert signed is not None
        entries = stream_entries(session, "conversation:one")
        last = entries[-1]
        index, _size, path = inclusion_proof(session, last.seq, tree_size=signed.size)
        note = signed.note
    assert [e.stream_seq for e in entries] == list(range(1, 9))
    assert offline.check_stream(entries) is None
    trusted = offline.keyring([v.vkey for v in keys.keyring.verifiers])
    assert offline.verify_entry(last, leaf_index=index, path=path, note=note, keys=trusted)
    assert offline.check_stream(entries[:3] + entries[4:]) is not None


def test_the_checkpointer_signs_soon_after_entries_commit(
    platform: Platform, keys: CheckpointKeys
) -> None:
    checkpointer = Checkpointer(platform.sessions, keys=keys, interval=0.2)
    signed = threading.Event()
    checkpointer.start()
    try:
        _add(platform, 4)
        for _ in range(100):  # wait (at most 10 s) for the thread, no timing assertion
            with unit_of_work(platform.sessions) as session:
                latest = latest_checkpoint(session)
                if latest is not None and latest.size == 4:
                    signed.set()
                    break
            signed.wait(0.1)
    finally:
        checkpointer.stop()
    assert signed.is_set()


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    result = CliRunner().invoke(app, ["audit", *args])
    return result.exit_code, result.output


def test_the_cli_signs_proves_and_rotates(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _cli(settings, monkeypatch, "checkpoint")
    assert code == 1
    _add(platform, 6)
    code, note = _cli(settings, monkeypatch, "checkpoint")
    assert code == 0, note
    assert note.startswith(f"{settings.records.origin}\n6\n")
    code, output = _cli(settings, monkeypatch, "prove", "3")
    assert code == 0, output
    proof = json.loads(output)
    assert (proof["leaf_index"], proof["tree_size"], proof["checkpoint"]) == (2, 6, note)
    with unit_of_work(platform.sessions) as session:
        leaf = session.get(AuditEntry, 3)
        assert leaf is not None
        path = [base64.b64decode(h) for h in proof["path"]]
        assert merkle.verify_inclusion(2, 6, bytes(leaf.leaf_hash), path, root_at(session, 6))
    code, before = _cli(settings, monkeypatch, "keys")
    assert code == 0
    assert before.startswith("active  ")
    code, rotated = _cli(settings, monkeypatch, "keys", "--rotate")
    assert code == 0
    assert "retired " + before.split()[1] in rotated
    _add(platform, 1)
    code, newer = _cli(settings, monkeypatch, "checkpoint")
    assert code == 0
    assert newer.split("\n")[-2].split()[2] != note.split("\n")[-2].split()[2]
    code, output = _cli(settings, monkeypatch, "verify")
    assert code == 0, output  # old checkpoints still verify under the retired public key
