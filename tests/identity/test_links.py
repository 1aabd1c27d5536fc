"""Secure links: single use, short-lived, bound to one chat identity; TOTP codes work once."""

from __future__ import annotations

import dataclasses
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import service
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.models import ChatIdentity, SecureLink
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user
from tests.identity.test_lockout import failures

INVALID = "This link is invalid, used or expired"


def test_a_link_works_once(client: TestClient, platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    path = chat.link("login")
    assert chat.log_in(path, alice).status_code == 200
    clock.advance(30)
    again = chat.log_in(path, alice)
    assert again.status_code == 404
    assert INVALID in again.text
    assert client.get(path).status_code == 404


def test_a_link_expires_after_ten_minutes(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    first = chat.say("login")
    assert "valid 10 minutes" in first[0]["text"]
    path = urlparse(first[0]["link"]).path
    again = chat.say("login")
    assert again[0]["link"] is None, "one link per chat and link lifetime"
    assert "already sent in this chat; it stays valid until" in again[0]["text"]
    with unit_of_work(platform.sessions) as session:
        links = session.scalars(select(SecureLink)).all()
        assert [(link.expires_at - link.created_at).total_seconds() for link in links] == [600]
    clock.advance(601)
    assert client.get(path).status_code == 404
    assert chat.log_in(path, alice).status_code == 404
    assert chat.link("login") != path, "once it has expired, a new one"


def test_the_link_binds_the_chat_identity_that_asked(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock, sender="sender-alice-01")
    assert chat.log_in(chat.link("login"), alice).status_code == 200
    clock.advance(30)
    again = chat.say("login")  # logged in already: told so, and still given a link to switch
    assert again[0]["text"].startswith("This chat is already logged in.")
    assert again[0]["link"]
    clock.advance(601)  # that link expired: a new one, in Chinese
    assert chat.say("登录")[0]["text"].startswith("本对话已经登录。")
    with unit_of_work(platform.sessions) as session:
        identity = session.scalars(select(ChatIdentity)).one()
        assert (identity.channel, identity.external_id, identity.user_id) == (
            "webchat",
            "sender-alice-01",
            alice.id,
        )
    other = Chat(client, clock, sender="sender-mallory")
    assert other.say("status")[0]["link"], "another sender in the same chat is not logged in"


def test_wrong_factors_fail_with_one_answer_and_burn_the_link(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    path = chat.link("login")
    wrong_code = str((int(alice.code(clock.now.timestamp())) + 1) % 1_000_000).zfill(6)
    answers = [
        chat.log_in(path, alice, otp=wrong_code),
        client.post(
            path, data={"username": "alice", "password": "wrong-password", "otp": "123456"}
        ),
        client.post(path, data={"username": "nobody", "password": alice.password, "otp": "123456"}),
    ]
    for response in answers:
        assert response.status_code == 401
        assert (
            "Login failed. Check your username, password and authenticator code." in response.text
        )
    chat.log_in(path, alice, otp="000000")
    chat.log_in(path, alice, otp="000000")
    burned = chat.log_in(path, alice)
    assert burned.status_code == 404, "five failures use the link up"


def test_a_totp_code_works_only_once(client: TestClient, platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    code = alice.code(clock.now.timestamp())
    assert chat.log_in(chat.link("login"), alice, otp=code).status_code == 200
    second = chat.link("login")
    assert chat.log_in(second, alice, otp=code).status_code == 401
    clock.advance(30)
    assert chat.log_in(second, alice).status_code == 200


def test_codes_one_step_either_side_are_accepted(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    early = alice.code(clock.now.timestamp() - 30)
    assert chat.log_in(chat.link("login"), alice, otp=early).status_code == 200
    too_late = alice.code(clock.now.timestamp() + 90)
    assert chat.log_in(chat.link("login"), alice, otp=too_late).status_code == 401


def test_the_session_times_out_when_idle(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    chat.link_and_log_in(make_user(platform))
    assert chat.say("status")[0]["link"] is None
    clock.advance(61 * 60)
    assert chat.say("status")[0]["link"], "after an hour idle the chat must log in again"


def test_idle_time_counts_from_a_last_activity_written_every_thirty_seconds(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    """Not a write per message: within 30 s of the last one written, a message leaves it; the
    idle limit then counts from the older time (a session ends early, never late)."""
    chat = Chat(client, clock)
    chat.link_and_log_in(make_user(platform))

    def last_active() -> object:
        with unit_of_work(platform.sessions) as session:
            return session.scalars(select(ChatIdentity.last_active_at)).one()

    assert chat.say("status")[0]["link"] is None  # 30 s after the login: written
    written = last_active()
    assert written == clock.now
    clock.advance(20)
    assert chat.say("status")[0]["link"] is None
    assert last_active() == written  # 20 s: not written again
    clock.advance(15)
    assert chat.say("status")[0]["link"] is None
    assert last_active() == clock.now  # 35 s since: written
    clock.advance(60 * 60 - 10)
    assert chat.say("status")[0]["link"] is None  # 59 min 50 s idle: still in
    clock.advance(60 * 60 + 1)
    assert chat.say("status")[0]["link"], "an hour idle: log in again"


def test_twenty_parallel_wrong_submissions_check_only_the_five_tries(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    """The try cap is counted in the database under the link's row lock: racing submissions to
    one link are checked one after another, so exactly five are checked and counted and the
    rest find the link used up (before, all twenty were checked and the count ended at 1)."""
    alice = make_user(platform)
    token = Chat(client, clock).link("login").rsplit("/", 1)[1]
    lenient = LockoutPolicy(account_free_failures=100, hard_threshold=100, source_free_failures=100)
    policy = dataclasses.replace(platform.desk.policy, lockout=lenient)
    racers = 20
    start = threading.Barrier(racers)

    def submit(n: int) -> str:
        start.wait()
        try:
            with unit_of_work(platform.sessions) as session:
                result = service.complete_link(
                    session, sealer=platform.desk.sealer, token=token, username=alice.username,
                    password="wrong password!", otp="000000", policy=policy, now=clock.now,
                    source_ip=f"198.51.100.{n}",
                )  # fmt: skip
                return "checked" if not result.ok else "passed"
        except DealchatError as error:
            return error.code.value

    with ThreadPoolExecutor(max_workers=racers) as pool:
        outcomes = list(pool.map(submit, range(racers)))
    assert sorted(outcomes).count("checked") == service.MAX_LINK_ATTEMPTS, outcomes
    with unit_of_work(platform.sessions) as session:
        link = session.scalars(select(SecureLink)).one()
        assert link.failed_attempts == service.MAX_LINK_ATTEMPTS
        failed = session.scalars(
            select(AuditEntry.payload).where(AuditEntry.event == AuditEvent.LINK_FAILED.value)
        ).all()
    assert sorted(json.loads(p)["attempts"] for p in failed) == [1, 2, 3, 4, 5]
    assert failures(platform, alice) == service.MAX_LINK_ATTEMPTS, "only checked tries count"
