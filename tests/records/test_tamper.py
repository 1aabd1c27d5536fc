"""`verify` names the first bad entry when nodes, streams, heads or checkpoints are tampered with,
on SQLite and PostgreSQL, by someone who first lifts the append-only triggers."""

from __future__ import annotations

import importlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.records import merkle
from dealchat.records.checkpoints import CheckpointKeys, create_checkpoint
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import entry_leaf_hash
from dealchat.records.models import AuditCheckpoint, AuditEntry, AuditHead, AuditNode, AuditStream
from dealchat.records.notes import Signer, checkpoint_body, sign_note
from dealchat.records.service import NewEntry, VerifyResult, append, verify
from dealchat.records.verify import verify_log
from dealchat.settings import Settings
from tests.records.attacks import changed_fields

_MIGRATION = importlib.import_module(
    "migrations.versions.2026_11_24_5a1e0c7d9b21_audit_merkle_tree"
)


@pytest.fixture
def keys(settings: Settings) -> CheckpointKeys:
    return CheckpointKeys.load(settings.keys_dir, settings.records.origin)


def _entries(count: int, start: int = 0) -> list[NewEntry]:
    return [
        NewEntry(AuditEvent.MESSAGE_RECEIVED, "client", f"conversation:c{i % 2}", {"n": i})
        for i in range(start, start + count)
    ]


@pytest.fixture
def logged(platform: Platform, keys: CheckpointKeys) -> Platform:
    """40 entries in two conversations, signed at 2 and at 40; then the triggers are lifted."""
    with unit_of_work(platform.sessions) as session:
        append(session, entries=_entries(2))
        create_checkpoint(session, keys=keys)
        append(session, entries=_entries(38, start=2))
        create_checkpoint(session, keys=keys)
        assert verify(session, keys=keys.keyring).ok
    down = _MIGRATION.SQLITE_DOWN if platform.engine.dialect.name == "sqlite" else None
    with unit_of_work(platform.sessions) as session:
        for statement in down or _MIGRATION.POSTGRES_DOWN:
            session.execute(text(statement))
    return platform


def _verify(platform: Platform, keys: CheckpointKeys) -> VerifyResult:
    """The verdict, the same whether the 40 entries are checked as one chunk or as three (16,
    16 and 8 entries, joined across the chunks)."""
    with unit_of_work(platform.sessions) as session:
        whole = verify(session, keys=keys.keyring)
        assert verify_log(session, keys=keys.keyring, workers=1, chunk_level=4) == whole
        return whole


def test_an_altered_node_names_the_first_entry_under_it(
    logged: Platform, keys: CheckpointKeys
) -> None:
    with unit_of_work(logged.sessions) as session:
        session.execute(
            update(AuditNode).where(AuditNode.level == 4, AuditNode.idx == 1).values(hash=bytes(32))
        )
    result = _verify(logged, keys)
    assert (result.ok, result.first_bad_seq) == (False, 17)
    assert "tree node over entries 17-32" in str(result.problem)


def test_a_removed_node_is_named(logged: Platform, keys: CheckpointKeys) -> None:
    with unit_of_work(logged.sessions) as session:
        session.execute(delete(AuditNode).where(AuditNode.level == 5, AuditNode.idx == 0))
    result = _verify(logged, keys)
    assert (result.ok, result.first_bad_seq) == (False, 1)


def test_an_entry_moved_to_another_conversation_breaks_both_streams(
    logged: Platform, keys: CheckpointKeys
) -> None:
    with unit_of_work(logged.sessions) as session:
        entry = session.get(AuditEntry, 6)
        assert entry is not None
        moved = changed_fields(entry, subject="conversation:c0")
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 6)
            .values(subject=moved.subject, leaf_hash=entry_leaf_hash(moved))
        )
    result = _verify(logged, keys)
    assert (result.ok, result.first_bad_seq) == (False, 6)
    assert "breaks the stream of conversation:c0" in str(result.problem)


def _rewrite_history(session: Session, *, change_seq: int) -> None:
    """Delete everything and append it again with one payload changed: all hashes agree again."""
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    again = [
        NewEntry(AuditEvent(r.event), r.actor, r.subject, {"n": 99 if r.seq == change_seq else 0})
        for r in rows
    ]
    for table in (AuditEntry, AuditNode, AuditStream):
        session.execute(delete(table))
    session.execute(update(AuditHead).values(seq=0, root=merkle.EMPTY_ROOT, frontier=b""))
    append(session, entries=again)


def test_a_consistently_rewritten_history_is_caught_by_the_signed_checkpoints(
    logged: Platform, keys: CheckpointKeys
) -> None:
    with unit_of_work(logged.sessions) as session:
        _rewrite_history(session, change_seq=4)
        # even the stored checkpoint roots are "fixed"; the signed notes cannot be
        for size in (2, 40):
            session.execute(
                update(AuditCheckpoint)
                .where(AuditCheckpoint.size == size)
                .values(root=merkle.MemoryTree(
                    bytes(h) for h in session.scalars(
                        select(AuditEntry.leaf_hash).order_by(AuditEntry.seq)
                    )
                ).root(size))
            )  # fmt: skip
    result = _verify(logged, keys)
    assert result.ok is False
    # the change lies after the checkpoint at 2 (which no longer matches either: every payload
    # was rewritten) - the verifier names the first entry the signatures no longer cover
    assert result.first_bad_seq == 1
    assert "do not match the checkpoint signed at 2" in str(result.problem)


def test_a_checkpoint_signed_by_an_unknown_key_is_named(
    logged: Platform, keys: CheckpointKeys
) -> None:
    forger = Signer(keys.origin, Ed25519PrivateKey.generate())
    with unit_of_work(logged.sessions) as session:
        checkpoint = session.get(AuditCheckpoint, 40)
        assert checkpoint is not None
        body = checkpoint_body(keys.origin, 40, bytes(checkpoint.root))
        session.execute(
            update(AuditCheckpoint)
            .where(AuditCheckpoint.size == 40)
            .values(note=sign_note(body, [forger]))
        )
    result = _verify(logged, keys)
    assert (result.ok, result.first_bad_seq) == (False, 40)
    assert "no valid signature" in str(result.problem)
    with unit_of_work(logged.sessions) as session:
        assert verify(session).ok  # without keys only the stated size and root are checked


def test_a_stream_head_moved_back_is_named(logged: Platform, keys: CheckpointKeys) -> None:
    with unit_of_work(logged.sessions) as session:
        session.execute(
            update(AuditStream).where(AuditStream.subject == "conversation:c1").values(seq=3)
        )
    result = _verify(logged, keys)
    assert result.ok is False
    assert "stream of conversation:c1 is at 3" in str(result.problem)


def test_a_truncated_log_behind_a_checkpoint_is_named(
    logged: Platform, keys: CheckpointKeys
) -> None:
    with unit_of_work(logged.sessions) as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq > 35))
        session.execute(update(AuditHead).values(seq=35))
    result = _verify(logged, keys)
    assert (result.ok, result.first_bad_seq) == (False, 36)
    assert "missing" in str(result.problem)


def test_worker_processes_give_the_same_verdict(logged: Platform, keys: CheckpointKeys) -> None:
    """Chunks checked by two worker processes, each on its own connection, joined here."""
    with unit_of_work(logged.sessions) as session:
        assert verify_log(session, keys=keys.keyring, workers=2, chunk_level=4).ok
    with unit_of_work(logged.sessions) as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 21).values(payload='{"n":-1}'))
    with unit_of_work(logged.sessions) as session:
        result = verify_log(session, keys=keys.keyring, workers=2, chunk_level=4)
    assert (result.ok, result.first_bad_seq) == (False, 21)
    assert "altered" in str(result.problem)
