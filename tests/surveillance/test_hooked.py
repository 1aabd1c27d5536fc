"""Surveillance runs on every recorded message, in the recording transaction, and fails safe."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from dealchat.api.deps import Platform
from dealchat.conversations.models import Message
from dealchat.db.session import make_session_factory, unit_of_work
from dealchat.records import hooks
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import Recorded
from dealchat.records.models import AuditEntry
from dealchat.records.service import record, verify
from dealchat.surveillance import store
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.factories.chat import Chat


def _alerts(platform: Platform) -> list[Alert]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(Alert).order_by(Alert.rule)))


def _events(platform: Platform, event: str) -> list[AuditEntry]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.event == event)))


def test_a_client_moving_channels_raises_alerts_recorded_with_the_message(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    chat.say("mkt eurusd 1m")
    assert _alerts(platform) == []
    chat.say("pls whatsapp me. or else call my cell")
    alerts = _alerts(platform)
    assert [(a.rule, a.category, a.status, a.kind) for a in alerts] == [
        ("other-app", "off_channel", "open", "lexicon"),
        ("personal-phone", "off_channel", "open", "lexicon"),
    ]
    said = "pls whatsapp me. or else call my cell"
    assert [said[s:e] for s, e in json.loads(alerts[0].spans)] == ["whatsapp me"]
    assert [said[s:e] for s, e in json.loads(alerts[1].spans)] == ["call my cell"]
    received = _events(platform, AuditEvent.MESSAGE_RECEIVED)[-1]
    raised = _events(platform, AuditEvent.ALERT_RAISED)
    assert {entry.subject for entry in raised} == {f"alert:{a.id}" for a in alerts}
    assert all(entry.seq > received.seq for entry in raised)
    assert "whatsapp" not in "".join(entry.payload for entry in raised)  # spans, never the text
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def test_chinese_in_traditional_script_is_seen(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    Chat(client, clock).say("可以打我手機嗎")
    assert [a.rule for a in _alerts(platform)] == ["cn-personal-phone"]


def _broken_by_sql(session: Session) -> None:
    session.execute(text("SELECT * FROM no_such_table_anywhere"))


def _broken_by_code(session: Session) -> None:
    raise RuntimeError("lexicon store unavailable")


@pytest.mark.parametrize("breakage", [_broken_by_sql, _broken_by_code])
def test_a_surveillance_error_never_loses_the_message(
    client: TestClient,
    platform: Platform,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    breakage: object,
) -> None:
    monkeypatch.setattr(store, "active_lexicon", breakage)
    replies = Chat(client, clock).say("whatsapp me")
    assert replies  # the client got its answer
    with unit_of_work(platform.sessions) as session:
        stored = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert len(stored) == 1
        assert verify(session).ok
    assert _alerts(platform) == []
    failures = _events(platform, AuditEvent.SURVEILLANCE_FAILED)
    received = _events(platform, AuditEvent.MESSAGE_RECEIVED)
    assert failures[0].subject == received[0].subject  # in the conversation's stream
    assert json.loads(failures[0].payload)["event"] == "message:received"


def test_hooks_see_each_entry_on_the_factory_they_were_installed_on(platform: Platform) -> None:
    factory = make_session_factory(platform.engine)
    seen: list[str] = []

    def watcher(session: Session, entries: Sequence[Recorded]) -> None:
        seen.extend(entry.event for entry in entries)

    hooks.install(factory, watcher)
    with unit_of_work(factory) as session:
        record(session, event=AuditEvent.USER_CREATED, actor="test", subject="user:x", payload={})
    assert seen == ["user:created"]
    other = make_session_factory(platform.engine)  # hooks belong to the factory they were put on
    with unit_of_work(other) as session:
        record(session, event=AuditEvent.USER_CREATED, actor="test", subject="user:y", payload={})
    assert seen == ["user:created"]
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


@pytest.mark.parametrize(
    ("said", "recorded"),
    [
        ("pls whatsapp me", "recorded"),
        ("我們私下聊吧", "全程記錄"),
    ],  # Chinese is answered in Chinese
)
def test_a_request_to_move_channels_gets_a_plain_answer(
    client: TestClient, platform: Platform, clock: Clock, said: str, recorded: str
) -> None:
    answer = Chat(client, clock).text(said)
    assert recorded in answer
    assert "didn't understand" not in answer
    assert [a.category for a in _alerts(platform)] == ["off_channel"]


def test_an_order_question_is_not_mistaken_for_moving_channels(
    client: TestClient, clock: Clock
) -> None:
    answer = Chat(client, clock).text("what is the weather")
    assert answer == "Sorry, I didn't understand that. Type help to see what I can do."
