"""Password rules (8-128, no composition rules, common passwords refused) and argon2id rehash."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import accounts, passwords, sessions
from dealchat.identity.models import User
from dealchat.identity.service import create_user
from dealchat.identity.session_models import AuthSession
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("seven77", "at least 8"),
        ("x" * 129, "at most 128"),
        ("password", "too common"),
        ("Password1", "too common"),
        ("QWERTYUIOP", "too common"),
        ("iloveyou2", "too common"),
        ("erin-secret-words", "username"),
        ("my dealchat login", "service"),
        ("qqqqqqqqqqqqqqqqqqqqqqqqqqq", "repeated"),
    ],
)
def test_bad_passwords_are_refused_naming_the_rule(password: str, rule: str) -> None:
    with pytest.raises(passwords.PasswordRejectedError, match=rule):
        passwords.check_new_password(password, username="erin")


@pytest.mark.parametrize(
    "password",
    [
        "eightchr",  # 8 characters, lower case only: no composition rules
        "correct horse battery staple",
        "Ünïcödé pässwörd",
        "x" * 40 + "y" * 24,  # 64
        "ab" * 64,  # 128
        "🐎🔋📎 staple",
    ],
)
def test_long_plain_and_unicode_passwords_are_accepted(password: str) -> None:
    passwords.check_new_password(password, username="erin")
    assert passwords.verify_password(passwords.hash_password(password), password)


def test_the_blocklist_is_the_shipped_list() -> None:
    listed = passwords.blocklist()
    assert len(listed) > 8000
    assert {"password", "12345678", "qwertyuiop", "iloveyou"} <= listed
    assert all(len(entry) >= passwords.MIN_LENGTH for entry in listed)


def test_nfkc_normalised_passwords_match() -> None:
    stored = passwords.hash_password("ﬁne password")  # U+FB01 ligature
    assert passwords.verify_password(stored, "fine password")


def test_create_and_change_enforce_the_rules(platform: Platform, clock: Clock) -> None:
    with (
        unit_of_work(platform.sessions) as session,
        pytest.raises(DealchatError, match="too common"),
    ):
        create_user(
            session,
            sealer=platform.desk.sealer,
            username="erin",
            password="iloveyou",
            kind="external",
            totp_secret=None,
            actor="test",
        )
    make_user(platform, "erin")
    with unit_of_work(platform.sessions) as session:
        with pytest.raises(DealchatError, match="at least 8"):
            accounts.set_password(
                session, username="erin", password="short", actor="test", now=clock.now
            )
        accounts.set_password(
            session, username="erin", password="a brand new phrase", actor="test", now=clock.now
        )
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == "erin")).one()
        assert passwords.verify_password(user.password_hash, "a brand new phrase")
        assert user.password_changed_at == clock.now


def test_a_password_change_ends_the_chat_sessions(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    assert chat.say("status")[0]["link"] is None, "logged in"
    with unit_of_work(platform.sessions) as session:
        accounts.set_password(
            session, username="alice", password="another long phrase", actor="t", now=clock.now
        )
    assert chat.say("status")[0]["link"], "the chat must log in again"


def test_login_rehashes_when_the_parameters_changed(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, alice.id)
        assert user is not None
        user.password_hash = passwords.hash_password(alice.password, hasher=weak)
        old_hash = user.password_hash
    assert passwords.needs_rehash(old_hash)
    Chat(client, clock).link_and_log_in(alice)
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, alice.id)
        assert user is not None
        assert user.password_hash != old_hash
        assert user.password_hash.startswith("$argon2id$")
        assert not passwords.needs_rehash(user.password_hash)
        assert passwords.verify_password(user.password_hash, alice.password)


def test_cli_set_password_applies_the_rules(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    make_user(platform, "frank")
    refused = CliRunner().invoke(app, ["users", "set-password", "frank", "--password", "password1"])
    assert refused.exit_code == 2
    assert "too common" in refused.output
    done = CliRunner().invoke(
        app, ["users", "set-password", "frank", "--password", "frank's new phrase!"]
    )
    assert done.exit_code == 2, "contains the username"
    done = CliRunner().invoke(
        app, ["users", "set-password", "frank", "--password", "a perfectly good one"]
    )
    assert done.exit_code == 0, done.output
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == "frank")).one()
        assert passwords.verify_password(user.password_hash, "a perfectly good one")


def test_a_password_change_revokes_console_sessions_and_tokens(
    platform: Platform, clock: Clock
) -> None:
    erin = make_user(platform, "erin", kind="internal")
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, erin.id)
        assert user is not None
        started = sessions.start(
            session, user=user, factors=("password", "totp"), source_ip=None, channel="console"
        )
        session_id = started.row.id
    with unit_of_work(platform.sessions) as session:
        accounts.set_password(
            session, username="erin", password="quite another phrase", actor="t", now=clock.now
        )
    with unit_of_work(platform.sessions) as session:
        row = session.get(AuthSession, session_id)
        assert row is not None
        assert row.revoked_at == clock.now
        assert row.revoke_reason == "password changed"
