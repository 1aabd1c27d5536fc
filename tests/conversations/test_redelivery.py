"""A redelivered message id: the insert that stores a message is its idempotency check
(`conversations/storing.py`), so a conflict must leave nothing behind, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import InboundMessage
from dealchat.channels.outbox import OutboxItem
from dealchat.conversations.desk import handle_inbound
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.records.envelope_models import DataKey
from dealchat.records.models import AuditEntry
from tests.conftest import Clock
from tests.factories.chat import Chat


def _state(platform: Platform) -> dict[str, Any]:
    """Everything a delivery writes: messages, outbox rows, audit entries, the conversation's
    number and time, the data keys' last use."""
    with unit_of_work(platform.sessions) as session:
        return {
            "entries": session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)).all(),
            "messages": session.scalar(select(func.count()).select_from(Message)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxItem)),
            "conversations": session.execute(
                select(Conversation.last_seq, Conversation.updated_at)
            ).all(),
            "keys": session.execute(select(DataKey.id, DataKey.last_sealed_at)).all(),
        }


def test_a_redelivery_gets_the_stored_replies_and_writes_nothing(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    chat.say("hello")
    first = chat.say("mkt eurusd 1m", message_id="m-again-0001")
    assert first[0]["link"]
    before = _state(platform)
    clock.advance(60)  # a key used now would show a later last_sealed_at
    assert chat.say("mkt eurusd 1m", message_id="m-again-0001") == first
    assert _state(platform) == before


def test_a_redelivery_in_the_desk_returns_the_replies_to_its_sender_only(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    """`handle_inbound` itself: the replies with their numbers; another sender gets nothing."""
    message = InboundMessage(
        channel="webchat",
        conversation_id="conv-desk-again",
        sender_id="sender-desk-1",
        message_id="m-desk-again-1",
        text="hello",
    )
    with unit_of_work(platform.sessions) as session:
        replies = handle_inbound(session, message=message, desk=platform.desk)
    assert [reply.seq for reply in replies] == [2]
    before = _state(platform)
    clock.advance(60)
    with unit_of_work(platform.sessions) as session:
        assert handle_inbound(session, message=message, desk=platform.desk) == replies
        other = replace(message, sender_id="sender-desk-2")
        assert handle_inbound(session, message=other, desk=platform.desk) == []
    assert _state(platform) == before
