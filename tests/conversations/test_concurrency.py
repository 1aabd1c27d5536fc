"""Parallel deliveries: one message id is answered once, and the audit chain stays whole."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import LimitSettings, Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """40 messages at once into one conversation: more than its default rate allows."""
    roomy = LimitSettings(per_minute={"webchat-conversation": 1000})
    return Settings(data_dir=tmp_path / "var", database_url=database_url, limits=roomy)


URL = "/api/v1/webchat/messages"


def _post(client: TestClient, message_id: str, text: str, sender: str = "sender-par-1") -> object:
    body = {
        "conversation_id": "conv-parallel",
        "sender_id": sender,
        "message_id": message_id,
        "text": text,
    }
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_redelivery_storm_is_answered_once(client: TestClient, platform: Platform) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: _post(client, "storm-1", "mkt eurusd 1m"), range(16)))
    assert all(answer == answers[0] for answer in answers)
    with unit_of_work(platform.sessions) as session:
        inbound = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
        assert inbound == 1
        numbered = session.scalar(select(Conversation.last_seq))
        assert numbered == session.scalar(select(func.count()).select_from(Message)), "no gap"
        assert verify(session).ok


def test_parallel_messages_keep_one_unbroken_chain(client: TestClient, platform: Platform) -> None:
    def one(number: int) -> object:
        return _post(client, f"par-{number}", "help", sender=f"sender-par-{number % 4}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(one, range(40)))
    with unit_of_work(platform.sessions) as session:
        result = verify(session)
        assert result.ok, result.problem
        seqs = session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert seqs == list(range(1, len(seqs) + 1))
        messages = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.event.in_(["message:received", "message:sent"]))
        )
        assert messages == 80  # each message and its reply
