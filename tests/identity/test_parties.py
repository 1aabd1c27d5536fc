"""Chat handles and usernames in the audit log: opaque ids in clear, the rest sealed (link and
identity events under the person's access-log month, messages under the conversation's key),
read back opened, erased by destroying those keys with every proof intact."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.conversations.bodies import scope_of
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.identity.models import ChatIdentity
from dealchat.identity.sms import masked
from dealchat.records import personal
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import make_user

HANDLE = "sender-alice-77"  # the chat handle: never in clear in the log
CHAT_EVENTS = ("link:issued", "link:failed", "link:completed", "identity:linked")


def _clear_text(platform: Platform) -> str:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(AuditEntry)).all()
        return "\n".join(f"{row.actor} {row.subject} {row.payload}" for row in rows)


def _linked_chat(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice writes unlinked, fails a login on the link once, logs in, writes again."""
    alice = make_user(platform, "alice.p")
    chat = Chat(client, clock, conversation="conv-parties-1", sender=HANDLE)
    path = urlparse(chat.say("mkt eurusd 1m")[0]["link"]).path
    assert "already sent" in chat.text("login"), "one live link per chat"
    assert chat.log_in(path, alice, otp="000000").status_code == 401
    assert chat.log_in(path, alice).status_code == 200
    clock.advance(30)
    chat.say("mkt eurusd 1m")
    with unit_of_work(platform.sessions) as session:
        identity = session.scalars(select(ChatIdentity)).one()
        conversation = session.scalars(select(Conversation)).one()
        return {"alice": alice, "identity": identity.id, "conversation": conversation.id}


def test_link_and_identity_entries_keep_only_opaque_ids_in_clear(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    flow = _linked_chat(client, platform, clock)
    clear = _clear_text(platform)
    assert HANDLE not in clear
    assert "alice.p" not in clear  # user:created seals the username too
    found = {entry["event"]: entry for entry in entries(platform, *CHAT_EVENTS)}
    assert set(found) == set(CHAT_EVENTS)
    assert all(entry["sender"] == f"webchat:{HANDLE}" for entry in found.values())
    assert found["link:failed"]["actor"] == "chat:webchat:unlinked"
    assert found["link:failed"]["sealed_scope"].startswith("access:anonymous:")
    alice_id = flow["alice"].id
    assert found["link:completed"]["sealed_scope"].startswith(f"access:{alice_id}:")
    linked = found["identity:linked"]
    assert (linked["actor"], linked["subject"]) == (
        f"user:{alice_id}",
        f"chat-identity:{flow['identity']}",
    )
    assert linked["channel"] == "webchat"
    created = entries(platform, "user:created")
    assert [entry["username"] for entry in created] == ["alice.p"]


def test_message_senders_are_sealed_under_the_conversation(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    flow = _linked_chat(client, platform, clock)
    received = entries(platform, "message:received")
    assert [entry["actor"] for entry in received] == [
        "chat:webchat:unlinked",  # mkt eurusd 1m
        "chat:webchat:unlinked",  # login
        f"chat-identity:{flow['identity']}",  # mkt eurusd 1m, linked
    ]
    assert {entry["sender"] for entry in received} == {f"webchat:{HANDLE}"}
    assert all(entry["message_id"].startswith("m-") for entry in received)
    scope = scope_of(flow["conversation"])
    assert {entry["sealed_scope"] for entry in received} == {scope}
    with unit_of_work(platform.sessions) as session:
        platform.desk.envelope.destroy(
            session, scope=scope, reason="test", actor="test", now=clock.now
        )
    after = entries(platform, "message:received")
    assert all(entry["erased"] and "sender" not in entry for entry in after)
    assert [entry["actor"] for entry in after] == [entry["actor"] for entry in received]
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def test_erasing_a_persons_months_erases_their_handles_and_proofs_hold(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    flow = _linked_chat(client, platform, clock)
    with unit_of_work(platform.sessions) as session:
        for scope in personal.scopes_of(session, flow["alice"].id):
            platform.desk.envelope.destroy(
                session, scope=scope, reason="test", actor="test", now=clock.now
            )
    found = {entry["event"]: entry for entry in entries(platform, *CHAT_EVENTS)}
    assert found["identity:linked"]["erased"] is True
    assert "sender" not in found["identity:linked"]
    assert found["link:failed"]["sender"] == f"webchat:{HANDLE}"  # anonymous: not alice's key
    assert [entry["erased"] for entry in entries(platform, "user:created")] == [True]
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def test_a_phone_mask_always_hides_six_digits() -> None:
    assert masked("+447700900123") == "+44********23"
    assert masked("+15551234567") == "+15*******67"
    for phone in ("+1234567", "+123456789", "+447700900123"):
        shown = masked(phone)
        assert len(shown) == len(phone)
        assert shown.count("*") >= 6
