"""A client resets her forgotten password from her linked chat: a single-use link (nothing asked
in the chat), her second factor first (authenticator or SMS), then a new password twice (the
rules, 8-128 for a client, the breached list); every session of hers ends, the links are spent,
wrong codes count in the lockout. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import accounts, passwords
from dealchat.identity.models import ChatIdentity, User
from dealchat.identity.sms import CapturingSms
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user

NEW = "blue kettle on a quiet hill"


def _next_form(page: str) -> str:
    found = re.search(r'<form method="post" action="(/reset/[^"]+/password)"', page)
    assert found, page
    return found.group(1)


def _linked(client: TestClient, platform: Platform, clock: Clock) -> tuple[Chat, TestUser]:
    chat = Chat(client, clock, conversation="conv-reset-1", sender="sender-reset-1")
    alice = make_user(platform, "alice")
    chat.link_and_log_in(alice)
    return chat, alice


def _password_hash(platform: Platform, username: str) -> str:
    with unit_of_work(platform.sessions) as session:
        return accounts.find_user(session, username).password_hash


def test_she_asks_in_the_chat_proves_her_factor_and_sets_a_new_password(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat, alice = _linked(client, platform, clock)
    replies = chat.say("I forgot my password")
    assert len(replies) == 1
    assert "second factor first" in replies[0]["text"]
    assert "password" not in (replies[0]["link"] or "")
    path = re.sub(r"^https?://[^/]+", "", replies[0]["link"])
    assert path.startswith("/reset/")
    again = chat.say("forgot password")
    assert "already sent" in again[0]["text"], "one live link per chat"
    shown = client.get(path)
    assert shown.status_code == 200
    assert "authenticator" in shown.text
    assert 'name="password"' not in shown.text, "no password before the second factor"
    wrong = client.post(path, data={"otp": "000000"})
    assert wrong.status_code == 401
    assert "did not match" in wrong.text
    onward = client.post(path, data={"otp": alice.code(clock.now.timestamp())})
    assert onward.status_code == 200, onward.text
    form = _next_form(onward.text)
    assert f'maxlength="{passwords.MAX_LENGTH}"' in onward.text
    assert 'minlength="8"' in onward.text
    assert client.post(path, data={"otp": alice.code(clock.now.timestamp())}).status_code == 404
    differ = client.post(form, data={"password": NEW, "password_again": NEW + "!"})
    assert differ.status_code == 400
    common = client.post(form, data={"password": "iloveyou", "password_again": "iloveyou"})
    assert common.status_code == 400
    assert "too common" in common.text
    too_long = "x" * (passwords.MAX_LENGTH + 1)
    assert (
        client.post(form, data={"password": too_long, "password_again": too_long}).status_code
        == 422
    )
    done = client.post(form, data={"password": NEW, "password_again": NEW})
    assert done.status_code == 200, done.text
    assert "log in with it" in done.text
    assert client.post(form, data={"password": NEW, "password_again": NEW}).status_code == 404
    assert passwords.verify_password(_password_hash(platform, "alice"), NEW)
    with unit_of_work(platform.sessions) as session:
        identity = session.scalars(select(ChatIdentity)).one()
        assert identity.ended_at is not None, "her chat session ended: she logs in again"
        events = list(session.scalars(select(AuditEntry.event)))
        assert verify(session).ok
    assert {"user:password_changed", "session:revoked_all", "link:failed"} <= set(events)
    clock.advance(30)
    relogin = chat.log_in(chat.link("login"), dataclasses.replace(alice, password=NEW))
    assert relogin.status_code == 200, relogin.text


def test_the_pages_speak_her_chinese(client: TestClient, platform: Platform, clock: Clock) -> None:
    chat, alice = _linked(client, platform, clock)
    replies = chat.say("我忘記密碼了")
    assert "第二重驗證" in replies[0]["text"], "traditional, as she wrote"
    path = re.sub(r"^https?://[^/]+", "", replies[0]["link"])
    shown = client.get(path)
    assert 'lang="zh-Hant"' in shown.text
    assert "驗證器" in shown.text
    onward = client.post(path, data={"otp": alice.code(clock.now.timestamp())})
    assert "新密碼" in onward.text


def test_no_link_for_a_chat_not_linked_to_a_client(client: TestClient, clock: Clock) -> None:
    stranger = Chat(client, clock, conversation="conv-reset-2", sender="sender-unknown")
    replies = stranger.say("reset password")
    assert replies[0]["link"] is None
    assert "not linked to a client account" in replies[0]["text"]


def test_wrong_codes_count_in_the_lockout_and_spend_the_link(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat, _ = _linked(client, platform, clock)
    path = re.sub(r"^https?://[^/]+", "", chat.say("reset my password")[0]["link"])
    for _ in range(4):
        assert client.post(path, data={"otp": "123456"}).status_code == 401
    assert client.post(path, data={"otp": "123456"}).status_code == 404, "5 tries spend the link"
    assert client.get(path).status_code == 404
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == "alice")).one()
        assert user.failed_logins == 5
        assert user.delayed_until is None or user.delayed_until >= clock.now


@pytest.fixture
def sms_client(platform: Platform) -> Iterator[tuple[TestClient, CapturingSms]]:
    phone = CapturingSms()
    with TestClient(create_app(platform=dataclasses.replace(platform, sms=phone))) as client:
        yield client, phone


def test_a_client_with_sms_gets_her_code_on_the_page(
    sms_client: tuple[TestClient, CapturingSms], platform: Platform, clock: Clock
) -> None:
    client, phone = sms_client
    chat, _alice = _linked(client, platform, clock)
    number = "+447700900123"
    with unit_of_work(platform.sessions) as session:
        user = accounts.find_user(session, "alice")
        user.totp_secret_sealed = None  # her second factor is her phone
        accounts.set_phone(session, username="alice", phone=number, actor="test", now=clock.now)
    clock.advance(30)
    path = re.sub(r"^https?://[^/]+", "", chat.say("forgot password")[0]["link"])
    shown = client.get(path)
    assert "Send me a code by SMS" in shown.text
    assert phone.sent == [], "nothing is sent before she asks on the page"
    sent = client.post(f"{path}/sms")
    assert sent.status_code == 200
    assert "+44********23" in sent.text
    assert number not in sent.text, "the number is masked"
    challenge = re.search(r'name="sms_challenge" value="([0-9a-f]+)"', sent.text)
    assert challenge is not None
    onward = client.post(
        path, data={"otp": phone.last_code(number), "sms_challenge": challenge.group(1)}
    )
    assert onward.status_code == 200, onward.text
    done = client.post(_next_form(onward.text), data={"password": NEW, "password_again": NEW})
    assert done.status_code == 200
    assert passwords.verify_password(_password_hash(platform, "alice"), NEW)
