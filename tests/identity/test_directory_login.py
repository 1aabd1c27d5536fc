"""Directory bind login (DEALCHAT_DIRECTORY__BIND_LOGIN) against a real directory: Debian's
OpenLDAP slapd started by the fixture (tests/ldap), over StartTLS with the server's certificate
verified against the fixture's test CA. A user synchronised from it logs in to the console through
the real login form with the directory's password and OUR authenticator code; a wrong password is
refused and counted by our lockout; an empty password is refused before any network call; a
disabled user, an unreachable directory and an untrusted certificate are refused and not counted;
clients and local staff keep their local passwords. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dealchat.api.deps import Platform
from dealchat.app import build_platform, create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import directory_login, ldap_tls, login, sessions
from dealchat.identity.directory_login import DirectoryLogin
from dealchat.identity.models import DirectoryAccount, User
from dealchat.settings import DirectorySettings, Settings
from tests.conftest import Clock
from tests.factories.audit import entries, rules
from tests.factories.desk import csrf_of
from tests.factories.identity import TestUser, make_user
from tests.identity.test_directory import (
    DISABLED,
    _console_session,
    add_person,
    modify,
    person_dn,
    run,
    settings_for,
)
from tests.ldap.fixture import Slapd, _free_port, _tls, admin

DIRECTORY_PASSWORD = "Directory-Only-Secret-7f3a!"


def _with_directory(platform: Platform, configured: DirectorySettings) -> Platform:
    policy = dataclasses.replace(platform.desk.policy, directory=DirectoryLogin(configured))
    return dataclasses.replace(platform, desk=dataclasses.replace(platform.desk, policy=policy))


@pytest.fixture
def bind_platform(settings: Settings, clock: Clock, slapd: Slapd) -> Iterator[Platform]:
    """Built from settings with bind login on (app.auth_policy makes the DirectoryLogin)."""
    configured = settings.model_copy(update={"directory": settings_for(slapd, bind_login=True)})
    built = build_platform(configured)
    assert built.desk.policy.directory is not None
    built = dataclasses.replace(built, desk=dataclasses.replace(built.desk, clock=clock))
    yield built
    built.engine.dispose()


@pytest.fixture
def dlee(bind_platform: Platform, slapd: Slapd) -> TestUser:
    return synced_user(bind_platform, slapd)


def with_bind_login(platform: Platform, slapd: Slapd) -> Platform:
    """The platform with the directory's settings for `slapd` and bind login on."""
    configured = settings_for(slapd, bind_login=True)
    settings = platform.settings.model_copy(update={"directory": configured})
    return _with_directory(dataclasses.replace(platform, settings=settings), configured)


def synced_user(bind_platform: Platform, slapd: Slapd) -> TestUser:
    """Dan Lee: in the directory with a password there, synchronised here (no local password),
    enrolled with our authenticator."""
    add_person(slapd, "dlee", "Dan Lee")
    connection = admin(slapd)
    assert connection.modify(
        person_dn("dlee"), {"userPassword": [("MODIFY_REPLACE", [DIRECTORY_PASSWORD])]}
    )
    connection.unbind()
    run(bind_platform, slapd)
    secret = pyotp.random_base32(32)
    with unit_of_work(bind_platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == "dlee")).one()
        user.totp_secret_sealed = bind_platform.desk.sealer.seal(secret, context=f"totp:{user.id}")
        return TestUser("dlee", DIRECTORY_PASSWORD, secret, user.id)


def _console(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform), base_url="https://testserver")


def _form_login(client: TestClient, username: str, password: str, otp: str) -> Any:
    page = client.get("/console/login")
    form = {
        "username": username,
        "password": password,
        "otp": otp,
        "csrf_token": csrf_of(page.text),
    }
    return client.post("/console/login", data=form, follow_redirects=False)


def _failures(platform: Platform, username: str) -> int:
    with unit_of_work(platform.sessions) as session:
        found: int = session.scalars(
            select(User.failed_logins).where(User.username == username)
        ).one()
        return found


def _no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any connection the bind login opens is recorded (and refused)."""
    opened: list[str] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        opened.append(str(args[:2]))
        raise AssertionError("the directory was asked")

    monkeypatch.setattr(directory_login.ldap3, "Connection", refuse)
    return opened


def _decide(platform: Platform, username: str, password: str, otp: str) -> login.Outcome:
    attempt = login.Attempt(username, password, otp, "console", "192.0.2.7")
    with unit_of_work(platform.sessions) as session:
        return login.decide(
            session,
            sealer=platform.desk.sealer,
            attempt=attempt,
            policy=platform.desk.policy.lockout,
            now=platform.desk.clock(),
            directory=platform.desk.policy.directory,
        )


def test_directory_password_and_our_code_log_in_to_the_console(
    bind_platform: Platform, dlee: TestUser, clock: Clock
) -> None:
    with _console(bind_platform) as client:
        response = _form_login(client, "dlee", dlee.password, dlee.code(clock.now.timestamp()))
        assert response.status_code == 303, response.text
        assert response.headers["location"] == "/console/"
        home = client.get("/console/", follow_redirects=False)
        assert home.status_code == 200
        assert "dlee" in home.text
    [succeeded] = entries(bind_platform, "authn:succeeded")
    assert succeeded["rule"] == "directory-password+totp"
    assert succeeded["factors"] == ["password", "totp"]
    assert succeeded["channel"] == "console"


def test_the_directory_password_alone_is_not_enough(
    bind_platform: Platform, dlee: TestUser, clock: Clock
) -> None:
    with _console(bind_platform) as client:
        response = _form_login(client, "dlee", dlee.password, "000000")
        assert response.status_code == 401
        assert "Login failed" in response.text
    assert rules(bind_platform) == ["directory-wrong-otp"]
    assert _failures(bind_platform, "dlee") == 1


def test_a_wrong_directory_password_is_refused_and_counted_by_our_lockout(
    bind_platform: Platform, dlee: TestUser, clock: Clock
) -> None:
    free = bind_platform.desk.policy.lockout.account_free_failures
    with _console(bind_platform) as client:
        for _ in range(free):
            response = _form_login(client, "dlee", "not-the-password", "000000")
            assert response.status_code == 401
            assert "Login failed" in response.text
            assert "wrong-password" not in response.text, "the reason is never shown"
    assert _failures(bind_platform, "dlee") == free
    assert rules(bind_platform) == ["wrong-password"] * free
    # the account is delayed now: even the right password and code are refused without a bind
    outcome = _decide(bind_platform, "dlee", dlee.password, dlee.code(clock.now.timestamp()))
    assert (outcome.ok, outcome.rule) == (False, "account-delayed")
    clock.advance(bind_platform.desk.policy.lockout.account_max_delay.total_seconds() + 1)
    outcome = _decide(bind_platform, "dlee", dlee.password, dlee.code(clock.now.timestamp()))
    assert (outcome.ok, outcome.rule) == (True, "directory-password+totp")
    assert _failures(bind_platform, "dlee") == 0, "a success starts the count again"


def test_an_empty_password_is_refused_without_asking_the_directory(
    bind_platform: Platform, dlee: TestUser, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = _no_network(monkeypatch)
    outcome = _decide(bind_platform, "dlee", "", dlee.code(clock.now.timestamp()))
    assert (outcome.ok, outcome.rule) == (False, "empty-password")
    assert directory_login.bind_as(bind_platform.settings.directory, person_dn("dlee"), "") == (
        "empty-password"
    )
    with _console(bind_platform) as client:
        response = _form_login(client, "dlee", "", dlee.code(clock.now.timestamp()))
        assert response.status_code in {401, 422}
    assert opened == []
    assert _failures(bind_platform, "dlee") >= 1, "a failed attempt like any other"


def test_a_disabled_user_is_refused_without_a_bind(
    bind_platform: Platform,
    dlee: TestUser,
    slapd: Slapd,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    modify(slapd, "dlee", userAccountControl=DISABLED)
    run(bind_platform, slapd)
    code = dlee.code(clock.now.timestamp())
    assert _decide(bind_platform, "dlee", dlee.password, code).rule == "account-locked"
    with unit_of_work(bind_platform.sessions) as session:  # unlocked here by hand: still refused
        session.execute(update(User).where(User.username == "dlee").values(locked_at=None))
    opened = _no_network(monkeypatch)
    outcome = _decide(bind_platform, "dlee", dlee.password, code)
    assert (outcome.ok, outcome.rule) == (False, "directory-disabled")
    assert opened == []
    assert _failures(bind_platform, "dlee") == 0, "no password was tested"


def test_an_unreachable_directory_is_a_clear_refusal_never_a_fallback(
    bind_platform: Platform, dlee: TestUser, clock: Clock
) -> None:
    away = bind_platform.settings.directory.model_copy(
        update={"url": f"ldap://127.0.0.1:{_free_port()}", "login_timeout_seconds": 2}
    )
    platform = _with_directory(bind_platform, away)
    with _console(platform) as client:
        response = _form_login(client, "dlee", dlee.password, dlee.code(clock.now.timestamp()))
        assert response.status_code == 401
        assert "Login failed" in response.text
    [rule] = rules(platform)
    assert rule.startswith("directory-unavailable:"), rule
    assert _failures(platform, "dlee") == 0, "an outage locks nobody out"


def test_a_directory_certificate_from_another_ca_is_refused(
    bind_platform: Platform, dlee: TestUser, clock: Clock, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    unrelated, _, _ = _tls(tmp_path / "other")
    untrusted = bind_platform.settings.directory.model_copy(update={"ca_file": unrelated})
    platform = _with_directory(bind_platform, untrusted)
    outcome = _decide(platform, "dlee", dlee.password, dlee.code(clock.now.timestamp()))
    assert not outcome.ok
    assert outcome.rule.startswith("directory-unavailable:"), outcome.rule


def test_clients_and_local_staff_keep_their_local_passwords(
    bind_platform: Platform, dlee: TestUser, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = make_user(bind_platform, "alice", kind="external")
    ray = make_user(bind_platform, "ray", kind="internal")
    with unit_of_work(bind_platform.sessions) as session:  # even a client with a directory row
        session.add(
            DirectoryAccount(
                directory_id="alice-guid",
                dn=person_dn("alice"),
                user_id=alice.id,
                disabled=False,
                synced_at=clock.now,
            )
        )
    opened = _no_network(monkeypatch)
    for user in (alice, ray):
        code = user.code(clock.now.timestamp())
        outcome = _decide(bind_platform, user.username, user.password, code)
        assert (outcome.ok, outcome.rule) == (True, "password+totp")
    assert opened == []


def test_the_password_is_never_logged_or_recorded(
    bind_platform: Platform, dlee: TestUser, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert _decide(bind_platform, "dlee", dlee.password, dlee.code(clock.now.timestamp())).ok
    assert not _decide(bind_platform, "dlee", "Wrong-But-Secret-91", "000000").ok
    assert dlee.password not in caplog.text
    assert "Wrong-But-Secret-91" not in caplog.text
    everything = str(entries(bind_platform, "authn:succeeded", "authn:failed"))
    assert dlee.password not in everything
    assert "Wrong-But-Secret-91" not in everything
    assert DIRECTORY_PASSWORD not in repr(bind_platform.desk.policy.directory)


def test_console_stepup_takes_the_directory_password(
    bind_platform: Platform, dlee: TestUser, clock: Clock
) -> None:
    token = _console_session(bind_platform, "dlee")
    with _console(bind_platform) as client:
        client.cookies.set(sessions.COOKIE, token)
        page = client.get("/console/stepup")
        form = {
            "password": dlee.password,
            "otp": dlee.code(clock.now.timestamp()),
            "csrf_token": csrf_of(page.text),
        }
        response = client.post("/console/stepup", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text
    assert rules(bind_platform) == ["directory-password+totp"]
    assert entries(bind_platform, "authn:succeeded")[0]["purpose"] == "stepup"


def test_the_connection_verifies_the_certificate(tmp_path: Path) -> None:
    """The TLS objects the bind uses (the same as the sync's): certificate required, the
    configured CA, ldaps:// as SSL from the first byte; a missing CA file is a refusal, not an
    error page; settings refuse plain LDAP and a bind login without a directory."""
    ca_file, _, _ = _tls(tmp_path)
    configured = DirectorySettings(enabled=True, url="ldaps://dc1.bank.test", ca_file=ca_file)
    server = ldap_tls.server_for(configured, timeout=3)
    assert server.ssl
    assert server.tls.validate == ssl.CERT_REQUIRED
    assert server.tls.ca_certs_file == str(ca_file)
    missing = configured.model_copy(update={"ca_file": tmp_path / "no-such-ca.pem"})
    assert directory_login.bind_as(missing, "cn=x", "pw").startswith("directory-unavailable:")
    starttls = ldap_tls.server_for(
        configured.model_copy(update={"url": "ldap://dc1.bank.test"}), timeout=3
    )
    assert not starttls.ssl
    assert starttls.tls.validate == ssl.CERT_REQUIRED
    with pytest.raises(ValueError, match="TLS"):
        DirectorySettings(enabled=True, url="ldap://dc1.bank.test", start_tls=False)
    with pytest.raises(ValueError, match="bind login needs the directory"):
        DirectorySettings(bind_login=True)


def test_api_stepup_takes_the_directory_password(
    bind_platform: Platform, dlee: TestUser, clock: Clock
) -> None:
    with unit_of_work(bind_platform.sessions) as session:
        _, secret = sessions.issue_token(
            session,
            user=session.get_one(User, dlee.id),
            name="desk tool",
            by="test",
            policy=bind_platform.session_policy,
            now=clock.now,
        )
    bearer = {"Authorization": f"Bearer {secret}"}
    body = {"password": "not-the-password", "otp": dlee.code(clock.now.timestamp())}
    body["content_hash"] = "0" * 64
    with _console(bind_platform) as api:
        refused = api.post("/api/v1/auth/stepup", json=body, headers=bearer)
        assert refused.status_code == 401
        assert "wrong-password" not in refused.text
        body["password"] = dlee.password
        granted = api.post("/api/v1/auth/stepup", json=body, headers=bearer)
        assert granted.status_code == 200, granted.text
        assert granted.json()["proof"]
    assert rules(bind_platform) == ["wrong-password", "directory-password+totp"]
    assert [e["channel"] for e in entries(bind_platform, "authn:failed")] == ["api"]
