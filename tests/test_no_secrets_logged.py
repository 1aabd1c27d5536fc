"""Nothing of a client's password, OTP or link token reaches a log line, the audit log, or the
database in clear."""

from __future__ import annotations

import logging
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import make_user


def _database_text(platform: Platform) -> str:
    metadata = MetaData()
    metadata.reflect(platform.engine)
    parts: list[str] = []
    with unit_of_work(platform.sessions) as session:
        for table in metadata.sorted_tables:
            parts.extend(repr(tuple(row)) for row in session.execute(select(table)))
    return "\n".join(parts)


def test_no_password_otp_or_token_in_logs_or_at_rest(
    client: TestClient, platform: Platform, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = make_user(platform)
    chat = Chat(client, clock)
    secrets_seen = [alice.password, alice.secret]
    last = ""
    for request in ("mkt eurusd 1m", "buy 1m eurusd", "c"):
        replies = chat.say(request)
        if replies[0]["link"]:
            path = urlparse(replies[0]["link"]).path
            code = alice.code(clock.now.timestamp())
            secrets_seen += [path.rsplit("/", 1)[1], code]
            assert client.get(path).status_code == 200
            assert chat.log_in(path, alice, otp=code).status_code == 200
            clock.advance(30)
            replies = chat.say(request)
        last = replies[0]["text"]
    assert last.startswith("FILLED")
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert any(r.name == "dealchat.access" for r in server_side), "requests are access-logged"
    logged = "\n".join(record.getMessage() + repr(vars(record)) for record in server_side)
    stored = _database_text(platform)
    for secret in secrets_seen:
        assert secret not in logged
        assert secret not in stored, "secrets are stored hashed or sealed, never in clear"


def test_failed_logins_leave_no_typed_secret_behind(
    client: TestClient, platform: Platform, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Wrong passwords, a password typed into the username box, and codes: none is kept."""
    caplog.set_level(logging.DEBUG)
    alice = make_user(platform)
    chat = Chat(client, clock)
    code = alice.code(clock.now.timestamp())
    wrong_code = str((int(code) + 1) % 1_000_000).zfill(6)
    typed = [
        {"username": alice.password, "password": alice.password, "otp": code},
        {"username": "alice", "password": "an-almost-right-password", "otp": code},
        {"username": "alice", "password": alice.password, "otp": wrong_code},
        {"username": "alice", "password": alice.password, "otp": code},
    ]
    path = chat.link("login")  # one link takes five tries
    for form in typed:
        client.post(path, data=form)
    decisions = [e["rule"] for e in entries(platform, "authn:failed", "authn:succeeded")]
    assert decisions == ["unknown-user", "wrong-password", "wrong-otp", "password+totp"]
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]
    logged = "\n".join(record.getMessage() + repr(vars(record)) for record in server_side)
    stored = _database_text(platform)
    for secret in (alice.password, "an-almost-right-password", code, wrong_code, alice.secret):
        assert secret not in logged
        assert secret not in stored
