"""Message bodies at rest: only ciphertext in the database, audit entries commit to it, erasure
by destroying the data key leaves every proof intact, KEK rotation re-wraps without rewriting."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from typer.testing import CliRunner

import dealchat.models  # noqa: F401 - every table on Base.metadata
from dealchat.api.deps import Platform
from dealchat.channels.interfaces import OutboundMessage
from dealchat.cli.main import app
from dealchat.conversations import bodies
from dealchat.conversations.desk import notify
from dealchat.conversations.models import Conversation, Message
from dealchat.db.base import Base
from dealchat.db.session import unit_of_work
from dealchat.records.envelope import Envelope
from dealchat.records.envelope_models import DataKey
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.records.fakes import FakeKms

SECRET_WORDS = "quokka-zebra-7731 my boss thinks we should sell everything"


def _database_text(platform: Platform, settings: Settings) -> str:
    """Everything the database stores: the SQLite files' bytes, or every PostgreSQL row."""
    if platform.engine.dialect.name == "sqlite":
        path = Path(settings.db_url.removeprefix("sqlite:///"))
        files = [path, path.with_name(path.name + "-wal")]
        return "".join(f.read_bytes().decode("latin-1") for f in files if f.exists())
    rows: list[str] = []
    with platform.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            found = connection.execute(text(f'SELECT t::text FROM "{table.name}" t'))
            rows.extend(str(row[0]) for row in found)
    return "\n".join(rows)


def _messages(platform: Platform) -> list[Message]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(Message).order_by(Message.created_at)))


def test_no_plaintext_body_is_stored_and_the_chat_still_reads(
    client: TestClient, platform: Platform, settings: Settings, clock: Clock
) -> None:
    chat = Chat(client, clock)
    reply = chat.text(SECRET_WORDS)
    assert reply  # the bot answered from the decrypted flow
    again = chat.say(SECRET_WORDS, message_id="m-repeat-1")
    assert chat.say(SECRET_WORDS, message_id="m-repeat-1") == again  # stored replies decrypt
    stored = _database_text(platform, settings)
    assert "quokka-zebra-7731" not in stored
    assert reply not in stored
    assert all(m.text is None and m.body for m in _messages(platform))


def test_each_message_entry_commits_to_its_ciphertext(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    Chat(client, clock).say("hello there")
    with unit_of_work(platform.sessions) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.event.in_(["message:received", "message:sent"]))
        ).all()
        assert len(entries) == 2
        for entry in entries:
            payload = json.loads(entry.payload)
            message = session.get(Message, payload["message"])
            assert message is not None
            assert message.body is not None
            assert payload["body_sha256"] == hashlib.sha256(message.body).hexdigest()
            assert payload["data_key"] == message.data_key_id
            assert "text" not in payload


def test_destroying_the_data_key_erases_content_and_every_proof_still_verifies(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    first = chat.say("hello there", message_id="m-erase-01")
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        erasure = platform.desk.envelope.destroy(
            session,
            scope=bodies.scope_of(conversation.id),
            reason="test erasure",
            actor="user:compliance",
            now=clock.now,
        )
    assert len(erasure.data_keys) == 1
    assert chat.say("hello there", message_id="m-erase-01") != first
    assert chat.say("hello there", message_id="m-erase-01")[0]["text"] == bodies.ERASED
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        tombstone = session.get(AuditEntry, erasure.audit_seq)
        assert tombstone is not None
        assert tombstone.event == "content:erased"
        assert json.loads(tombstone.payload)["data_keys"] == list(erasure.data_keys)
        key = session.get(DataKey, erasure.data_keys[0])
        assert key is not None
        assert key.wrapped is None
        for message in session.scalars(select(Message)):
            assert bodies.text_of(session, platform.desk, message) == bodies.ERASED
    assert chat.text("help").startswith("I take FX")  # the conversation goes on, under a new key


def test_a_body_moved_to_another_message_does_not_open(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    Chat(client, clock).say("hello there")
    with unit_of_work(platform.sessions) as session:
        first, second = session.scalars(select(Message)).all()
        assert first.body is not None
        with pytest.raises(ValueError, match="fails authentication"):
            platform.desk.envelope.open(
                session,
                data_key_id=str(first.data_key_id),
                blob=first.body,
                context=f"message:{second.id}",
            )


def test_rotation_through_a_kms_port_rewraps_keys_and_rewrites_no_content(
    platform: Platform, clock: Clock
) -> None:
    kms = FakeKms()
    envelope = Envelope(kms)
    with unit_of_work(platform.sessions) as session:
        sealed = [
            envelope.seal(session, scope=f"conversation:c{n}", context=f"m{n}", plaintext=f"t{n}")
            for n in range(3)
        ]
    old = kms.current_id
    kms.calls.clear()
    with unit_of_work(platform.sessions) as session:
        rotation = envelope.rotate_kek(session, actor="test")
    assert (rotation.rewrapped, rotation.previous) == (3, (old,))
    assert kms.calls.count(("unwrap", old)) == 3
    assert kms.calls.count(("wrap", rotation.kek_id)) == 3
    kms.retire(old)
    with unit_of_work(platform.sessions) as session:
        assert envelope.kek_in_use(session) == {rotation.kek_id}
        for n, item in enumerate(sealed):
            opened = envelope.open(
                session, data_key_id=item.data_key_id, blob=item.blob, context=f"m{n}"
            )
            assert opened == f"t{n}"
        assert verify(session).ok


def test_dealchat_keys_rotate_kek(
    client: TestClient,
    platform: Platform,
    settings: Settings,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = Chat(client, clock)
    replies = chat.say("hello there", message_id="m-rotate-01")
    bodies_before = {m.id: m.body for m in _messages(platform)}
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    result = CliRunner().invoke(app, ["keys", "rotate-kek", "--retire"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report == {
        "kek": "file:kek-0002",
        "rewrapped": 1,
        "previous": ["file:kek-0001"],
        "retired": ["file:kek-0001"],
    }
    assert not (settings.keys_dir / "kek" / "kek-0001.key").exists()
    assert {m.id: m.body for m in _messages(platform)} == bodies_before  # content untouched
    assert chat.say("hello there", message_id="m-rotate-01") == replies  # still decrypts
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        events = session.scalars(select(AuditEntry.event)).all()
        assert "kek:rotated" in events


def test_the_first_sealed_message_of_a_conversation_may_be_a_bot_notice(
    platform: Platform,
) -> None:
    """A conversation with no message yet (an order made elsewhere, released later): the new
    data key is written before the message that names it."""
    with unit_of_work(platform.sessions) as session:
        conversation = Conversation(channel="webchat", external_id="conv-notice-01")
        session.add(conversation)
        session.flush()
        out = notify(
            session,
            desk=platform.desk,
            conversation_id=conversation.id,
            answer=OutboundMessage("ORD-1 was released by the desk."),
        )
        message_id = out.id
    with unit_of_work(platform.sessions) as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        assert bodies.text_of(session, platform.desk, stored) == "ORD-1 was released by the desk."
