"""Once retention destroyed a conversation's data key, its clear identifiers go in the same run:
the platform address, the senders' handles and platform message ids; a chat identity goes once
nothing it wrote is kept and it has been idle for the chat period. A legal hold on the client or
the conversation keeps them all, and a client who writes again starts a new conversation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from dealchat.api.deps import Platform
from dealchat.channels.outbox import OutboxItem
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.identity import accounts
from dealchat.identity.models import ChatIdentity
from dealchat.records import retention
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import make_user
from tests.factories.retention import run_retention

HANDLE = "sender-erin-0042"
ROOM = "conv-erasure-1"


def _state(platform: Platform) -> dict[str, Any]:
    with unit_of_work(platform.sessions) as session:
        return {
            "rooms": sorted(session.scalars(select(Conversation.external_id))),
            "senders": sorted(
                set(session.scalars(select(Message.sender_id).where(Message.direction == "in")))
            ),
            "message_ids": sorted(
                filter(None, session.scalars(select(Message.channel_message_id)))
            ),
            "identities": sorted(session.scalars(select(ChatIdentity.external_id))),
        }


def _erin_chats(client: TestClient, platform: Platform, clock: Clock) -> str:
    erin = make_user(platform, "erin.c")
    chat = Chat(client, clock, conversation=ROOM, sender=HANDLE)
    chat.link_and_log_in(erin)
    assert "EUR/USD" in chat.text("mkt eurusd 1m")
    return erin.id


def _legacy_row_and_failed_delivery(platform: Platform) -> str:
    """A plain-text row from before encryption at rest, and a delivery error naming the handle,
    in erin's conversation; its id."""
    with unit_of_work(platform.sessions) as session:
        room = session.scalars(select(Conversation.id)).one()
        session.add(Message(conversation_id=room, direction="in", sender_id=HANDLE, text="call me"))
        outbox = session.scalars(select(OutboxItem)).first()
        assert outbox is not None
        outbox.last_error = f"HTTP 400: recipient {HANDLE} unknown"
        return room


def _chat_scopes(report: dict[str, Any], key: str) -> list[str]:
    """The conversation scopes the run erased (key "erased_scopes") or a hold kept."""
    return [item["scope"] for item in report[key] if item["class"] == "chat"]


def _later(clock: Clock) -> dt.datetime:
    return retention.add_years(clock.now, 7) + dt.timedelta(days=2)


def test_erased_conversation_keeps_no_identifier_and_a_new_message_starts_afresh(
    client: TestClient, platform: Platform, settings: Settings, clock: Clock
) -> None:
    _erin_chats(client, platform, clock)
    before = _state(platform)
    assert (before["rooms"], before["senders"], before["identities"]) == (
        [ROOM],
        [HANDLE],
        [HANDLE],
    )
    assert len(before["message_ids"]) == 2  # "login" and "mkt eurusd 1m"
    first = _legacy_row_and_failed_delivery(platform)
    report = run_retention(platform, settings, _later(clock))
    assert _chat_scopes(report, "erased_scopes") == [f"conversation:{first}"]
    purged = report["purged"]
    assert (purged["conversation_addresses"], purged["chat_identities"]) == (1, 1)
    assert purged["message_senders"] == 4  # "login", "mkt ...", the reply with a link, legacy
    with unit_of_work(platform.sessions) as session:
        assert session.scalars(select(Message.text).where(Message.text.is_not(None))).all() == []
        assert session.scalars(select(OutboxItem.last_error)).all() == [None] * 2
    assert purged["secure_links"] == 1
    assert _state(platform) == {
        "rooms": [f"erased:{first}"],
        "senders": ["erased"],
        "message_ids": [],
        "identities": [],
    }
    (run,) = entries(platform, "retention:run")
    assert run["purged"] == purged
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
    clock.now = _later(clock)
    again = Chat(client, clock, conversation=ROOM, sender=HANDLE)
    assert again.link("mkt eurusd 1m")  # not linked any more: asked to log in, in a new room
    with unit_of_work(platform.sessions) as session:
        rooms = dict(session.execute(select(Conversation.external_id, Conversation.id)).all())
    assert set(rooms) == {f"erased:{first}", ROOM}
    assert rooms[ROOM] != first


def test_a_hold_on_the_client_or_the_conversation_keeps_the_identifiers(
    client: TestClient, platform: Platform, settings: Settings, clock: Clock
) -> None:
    erin = _erin_chats(client, platform, clock)
    before = _state(platform)
    with unit_of_work(platform.sessions) as session:
        room = session.scalars(select(Conversation.id)).one()
    for kind, target in (("client", erin), ("conversation", room)):
        with unit_of_work(platform.sessions) as session:
            hold = retention.set_hold(
                session, kind=kind, target=target, reason="litigation", actor="t", now=clock.now
            )
            hold_id = hold.id
        report = run_retention(platform, settings, _later(clock))
        assert _chat_scopes(report, "erased_scopes") == []
        assert _chat_scopes(report, "held_scopes") == [f"conversation:{room}"]
        assert report["purged"]["conversation_addresses"] == 0
        assert report["purged"]["message_senders"] == 0
        assert report["purged"]["chat_identities"] == 0
        assert _state(platform) == before
        with unit_of_work(platform.sessions) as session:
            retention.lift_hold(
                session, hold_id=hold_id, reason="settled", actor="t", now=clock.now
            )
    report = run_retention(platform, settings, _later(clock))
    assert report["purged"]["chat_identities"] == 1
    assert _state(platform)["identities"] == []


def test_an_identity_stays_while_a_kept_conversation_holds_its_messages(
    client: TestClient, platform: Platform, settings: Settings, clock: Clock
) -> None:
    """erin writes in a second room six years later (not logged in any more): the first room
    is erased at seven years, her identity stays for the second room's sake, then goes."""
    _erin_chats(client, platform, clock)
    start = clock.now
    clock.now = retention.add_years(start, 6)
    Chat(client, clock, conversation="conv-erasure-2", sender=HANDLE).say("hello")
    report = run_retention(platform, settings, retention.add_years(start, 7) + dt.timedelta(1))
    assert len(_chat_scopes(report, "erased_scopes")) == 1
    assert report["purged"]["chat_identities"] == 0
    state = _state(platform)
    assert (state["senders"], state["identities"]) == (["erased", HANDLE], [HANDLE])
    report = run_retention(platform, settings, retention.add_years(start, 13) + dt.timedelta(1))
    assert len(_chat_scopes(report, "erased_scopes")) == 1
    assert report["purged"]["chat_identities"] == 1
    assert _state(platform)["identities"] == []


def test_a_client_hold_still_covers_her_chats_after_a_password_change(
    client: TestClient, platform: Platform, settings: Settings, clock: Clock
) -> None:
    """A new password ends her chat sessions, but the handle stays hers: the hold on her keeps
    the conversation she wrote in, and the chat must log in again."""
    erin = _erin_chats(client, platform, clock)
    with unit_of_work(platform.sessions) as session:
        accounts.set_password(
            session, username="erin.c", password="a-new-long-passphrase-9", actor="t", now=clock.now
        )
        room = session.scalars(select(Conversation.id)).one()
        retention.set_hold(
            session, kind="client", target=erin, reason="inquiry", actor="t", now=clock.now
        )
    assert Chat(client, clock, conversation=ROOM, sender=HANDLE).link("mkt eurusd 1m")
    report = run_retention(platform, settings, _later(clock))
    assert _chat_scopes(report, "held_scopes") == [f"conversation:{room}"]
    assert _chat_scopes(report, "erased_scopes") == []
    assert _state(platform)["identities"] == [HANDLE]


def test_the_identity_sweep_finds_messages_by_their_sender_index(platform: Platform) -> None:
    """Deciding whether an idle identity still wrote a kept message reads the sender index, not
    every message (SQLite would otherwise scan the table once per identity)."""
    with unit_of_work(platform.sessions) as session:
        statement = select(Message.id).where(Message.sender_id == HANDLE, Message.direction == "in")
        compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
        if session.get_bind().dialect.name == "sqlite":
            plan = " ".join(
                str(row[-1]) for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))
            )
            assert "ix_message_sender_id" in plan, plan
        else:
            found = session.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_message_sender_id' "
                    "AND schemaname = current_schema()"
                )
            ).scalar()
            assert found is not None
            assert "(sender_id)" in found
