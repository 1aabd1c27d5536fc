"""SMS codes through the SmsSender port: 6 digits, single use, 5 minutes, 5 tries, resend limits,
sent only after commit, never logged, sealed at rest; wrong codes feed the lockout."""

from __future__ import annotations

import io
import logging

import pytest
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import accounts, login, sms
from dealchat.identity.models import SmsChallenge, User
from tests.conftest import Clock
from tests.factories.identity import TestUser, make_user
from tests.identity.test_lockout import SMALL, failures

PHONE = "+447700900123"


@pytest.fixture
def phone() -> sms.CapturingSms:
    return sms.CapturingSms()


def _alice(platform: Platform) -> TestUser:
    alice = make_user(platform)
    with unit_of_work(platform.sessions) as session:
        accounts.set_phone(session, username="alice", phone=PHONE, actor="test")
    return alice


def _send(platform: Platform, clock: Clock, phone: sms.CapturingSms, user: TestUser) -> str:
    with unit_of_work(platform.sessions) as session:
        found = session.get(User, user.id)
        assert found is not None
        return sms.send_code(
            session, sealer=platform.desk.sealer, sms=phone, user=found, now=clock.now
        )


def _resend(platform: Platform, clock: Clock, phone: sms.CapturingSms, challenge: str) -> None:
    with unit_of_work(platform.sessions) as session:
        sms.resend(
            session, sealer=platform.desk.sealer, sms=phone, challenge_id=challenge, now=clock.now
        )


def _log_in(platform: Platform, clock: Clock, user: TestUser, challenge: str, code: str) -> bool:
    with unit_of_work(platform.sessions) as session:
        outcome = login.decide(
            session,
            sealer=platform.desk.sealer,
            attempt=login.Attempt(
                user.username, user.password, code, "api", "192.0.2.1", challenge
            ),
            policy=SMALL,
            now=clock.now,
        )
        return outcome.ok


def test_a_code_logs_in_once(platform: Platform, clock: Clock, phone: sms.CapturingSms) -> None:
    alice = _alice(platform)
    challenge = _send(platform, clock, phone, alice)
    code = phone.last_code(PHONE)
    assert len(code) == 6
    assert code.isdigit()
    assert _log_in(platform, clock, alice, challenge, code)
    assert not _log_in(platform, clock, alice, challenge, code), "single use"


def test_a_code_expires_after_five_minutes(
    platform: Platform, clock: Clock, phone: sms.CapturingSms
) -> None:
    alice = _alice(platform)
    challenge = _send(platform, clock, phone, alice)
    clock.advance(300)
    assert not _log_in(platform, clock, alice, challenge, phone.last_code(PHONE))


def test_five_tries_then_the_challenge_is_dead_and_failures_feed_the_lockout(
    platform: Platform, clock: Clock, phone: sms.CapturingSms
) -> None:
    alice = _alice(platform)
    challenge = _send(platform, clock, phone, alice)
    right = phone.last_code(PHONE)
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    for _ in range(5):
        assert not _log_in(platform, clock, alice, challenge, wrong)
        clock.advance(60)  # past the lockout's delay, to show the challenge's own limit
    assert not _log_in(platform, clock, alice, challenge, right)
    assert failures(platform, alice) == 6


def test_resend_limits(platform: Platform, clock: Clock, phone: sms.CapturingSms) -> None:
    alice = _alice(platform)
    challenge = _send(platform, clock, phone, alice)
    first = phone.last_code(PHONE)
    with pytest.raises(DealchatError, match="Wait"):
        _resend(platform, clock, phone, challenge)
    clock.advance(30)
    _resend(platform, clock, phone, challenge)
    second = phone.last_code(PHONE)
    clock.advance(30)
    _resend(platform, clock, phone, challenge)
    clock.advance(30)
    with pytest.raises(DealchatError, match="Wait"):
        _resend(platform, clock, phone, challenge)
    assert len(phone.sent) == 3, "at most 3 sends per challenge"
    if first != phone.last_code(PHONE):
        assert not _log_in(platform, clock, alice, challenge, first), "a resend retires the old"
    assert second is not None
    assert _log_in(platform, clock, alice, challenge, phone.last_code(PHONE))
    _send(platform, clock, phone, alice)
    _send(platform, clock, phone, alice)
    with pytest.raises(DealchatError, match="Too many"):
        _send(platform, clock, phone, alice)
    assert len(phone.sent) == 5, "at most 5 per hour"
    clock.advance(3600)
    _send(platform, clock, phone, alice)


def test_nothing_is_sent_when_the_transaction_rolls_back(
    platform: Platform, clock: Clock, phone: sms.CapturingSms
) -> None:
    alice = _alice(platform)

    def send_then_fail() -> None:
        with unit_of_work(platform.sessions) as session:
            user = session.get(User, alice.id)
            assert user is not None
            sms.send_code(session, sealer=platform.desk.sealer, sms=phone, user=user, now=clock.now)
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):
        send_then_fail()
    assert phone.sent == []


def test_the_code_is_sealed_and_never_logged(
    platform: Platform, clock: Clock, phone: sms.CapturingSms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = _alice(platform)
    challenge = _send(platform, clock, phone, alice)
    code = phone.last_code(PHONE)
    assert _log_in(platform, clock, alice, challenge, code)
    with unit_of_work(platform.sessions) as session:
        row = session.scalars(select(SmsChallenge)).one()
        assert code not in row.code_sealed
    assert all(code not in record.getMessage() for record in caplog.records)


def test_the_console_phone_writes_to_its_stream_not_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    out = io.StringIO()
    sms.ConsoleSms(out).send(to=PHONE, text="Your dealchat code is 123456.")
    assert "123456" in out.getvalue()
    assert caplog.records == []


def test_a_phone_number_must_be_e164(platform: Platform) -> None:
    make_user(platform)
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError, match=r"E\.164"):
        accounts.set_phone(session, username="alice", phone="07700 900123", actor="test")
