"""TOTP enrolment: a QR code, one valid code to finish, 5 tries, secrets sealed, factor change ends
sessions; through the single-use enrolment page and through the CLI."""

from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.identity import enrolment, factors, service
from dealchat.identity.models import TotpEnrolment, User
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user
from tests.identity.test_lockout import attempt, failures


def _begin(platform: Platform, clock: Clock, username: str) -> tuple[str, str]:
    """An enrolment and its page's path."""
    with unit_of_work(platform.sessions) as session:
        shown = enrolment.begin(
            session,
            sealer=platform.desk.sealer,
            username=username,
            issuer="dealchat",
            actor="test",
            now=clock.now,
        )
        token = service.issue_link(
            session,
            channel="enrol",
            external_id=shown.id,
            purpose="enrol",
            ticket_hash=None,
            policy=platform.desk.policy,
            now=clock.now,
        )
    return shown.secret, f"/enrol/{token}"


def test_enrolment_shows_a_qr_code_and_needs_one_valid_code(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    new_secret, path = _begin(platform, clock, "alice")
    assert len(new_secret) == 32, "160 bits of base32"
    shown = client.get(path)
    assert shown.status_code == 200
    assert "<svg" in shown.text
    assert new_secret in shown.text
    wrong = str((int(pyotp.TOTP(new_secret).at(clock.now)) + 1) % 1_000_000).zfill(6)
    refused = client.post(path, data={"otp": wrong})
    assert refused.status_code == 401
    assert "did not match" in refused.text
    assert attempt(platform, clock, alice), "the old authenticator works until enrolment ends"
    clock.advance(30)
    code = pyotp.TOTP(new_secret).at(clock.now)
    done = client.post(path, data={"otp": code})
    assert done.status_code == 200, done.text
    assert "enrolled" in done.text
    assert client.get(path).status_code == 404, "the link is spent"
    assert not attempt(platform, clock, alice), "the old authenticator no longer works"
    enrolled = TestUser(alice.username, alice.password, new_secret, alice.id)
    assert not attempt(platform, clock, enrolled, otp=code), "the finishing code works once"
    clock.advance(30)
    assert attempt(platform, clock, enrolled)


def test_five_wrong_codes_void_the_enrolment_and_feed_the_lockout(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    new_secret, path = _begin(platform, clock, "alice")
    right = pyotp.TOTP(new_secret).at(clock.now)
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    for _ in range(enrolment.MAX_TRIES):
        assert client.post(path, data={"otp": wrong}).status_code in {401, 404}
    assert client.post(path, data={"otp": right}).status_code == 404
    assert failures(platform, alice) == 5
    assert [e["tries"] for e in entries(platform, "totp_enrolment:failed")] == [1, 2, 3, 4, 5]


def test_the_secret_is_sealed_at_rest(platform: Platform, clock: Clock) -> None:
    make_user(platform)
    secret, _ = _begin(platform, clock, "alice")
    with unit_of_work(platform.sessions) as session:
        row = session.scalars(select(TotpEnrolment)).one()
        assert secret not in row.secret_sealed
        assert row.secret_sealed.startswith("v1:")
        user = session.scalars(select(User)).one()
        assert user.totp_secret_sealed is not None
        assert not re.search(r"[A-Z2-7]{32}", user.totp_secret_sealed.removeprefix("v1:"))


def test_enrolment_ends_the_chat_sessions(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    assert chat.say("status")[0]["link"] is None
    secret, path = _begin(platform, clock, "alice")
    assert client.post(path, data={"otp": pyotp.TOTP(secret).at(clock.now)}).status_code == 200
    assert chat.say("status")[0]["link"], "a new factor: the chat must log in again"


def test_a_login_link_does_not_open_the_enrolment_page(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    make_user(platform)
    login_path = Chat(client, clock).link("login")
    assert client.get(login_path.replace("/link/", "/enrol/")).status_code == 404
    _, path = _begin(platform, clock, "alice")
    assert client.get(path.replace("/enrol/", "/link/")).status_code == 404


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    return settings


def test_cli_enrolment_prints_a_qr_and_asks_for_a_code(
    platform: Platform, env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_user(platform, "carol", kind="internal")
    runner = CliRunner()
    first = runner.invoke(app, ["users", "enrol-totp", "carol"], input="000000\n" * 5)
    assert first.exit_code == 1, "five wrong codes"
    assert "did not match" in first.output
    known = pyotp.random_base32(32)
    monkeypatch.setattr(factors, "new_totp_secret", lambda: known)
    code = pyotp.TOTP(known).now()
    result = runner.invoke(app, ["users", "enrol-totp", "carol"], input=f"{code}\n")
    assert result.exit_code == 0, result.output
    assert f"secret={known}" in result.output
    assert "\u2580" in result.output or "\u2588" in result.output, "a QR code in the terminal"
    assert "authenticator enrolled for carol" in result.output
    link = runner.invoke(app, ["users", "enrol-totp", "carol", "--link"])
    assert link.exit_code == 0
    assert re.search(r"http://127\.0\.0\.1:8000/enrol/\S{40,}", link.output)
