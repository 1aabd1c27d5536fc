"""Lockout: a doubling, capped per-account delay, a hard threshold, per-source limits against
spraying, one answer for every failure, counted across doors, exact under 50 parallel attempts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.identity import lockout
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.models import User
from dealchat.identity.service import authenticate
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.audit import entries, rules
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user

SMALL = LockoutPolicy(
    account_free_failures=2,
    account_base_delay=dt.timedelta(seconds=2),
    account_max_delay=dt.timedelta(seconds=8),
    hard_threshold=7,
    source_free_failures=50,
)


def attempt(
    platform: Platform,
    clock: Clock,
    user: TestUser,
    *,
    password: str | None = None,
    otp: str | None = None,
    ip: str = "198.51.100.1",
    channel: str = "api",
    policy: LockoutPolicy = SMALL,
    username: str | None = None,
) -> bool:
    with unit_of_work(platform.sessions) as session:
        found = authenticate(
            session,
            sealer=platform.desk.sealer,
            username=username or user.username,
            password=user.password if password is None else password,
            otp=user.code(clock.now.timestamp()) if otp is None else otp,
            now=clock.now,
            channel=channel,
            source_ip=ip,
            lockout=policy,
            purpose="login",
        )
        return found is not None


def failures(platform: Platform, user: TestUser) -> int:
    with unit_of_work(platform.sessions) as session:
        found = session.get(User, user.id)
        assert found is not None
        return found.failed_logins


def test_delay_doubles_up_to_the_cap_then_the_hard_threshold_locks(
    platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    for _ in range(2):
        assert not attempt(platform, clock, alice, password="wrong password!")
    waits = []
    for _ in range(5):  # failures 3..7 after delays of 2, 4, 8, 8, 8 seconds
        assert not attempt(platform, clock, alice), "the right password is refused while delayed"
        with unit_of_work(platform.sessions) as session:
            user = session.get(User, alice.id)
            assert user is not None
            assert user.delayed_until is not None
            waits.append((user.delayed_until - clock.now).total_seconds())
            clock.now = user.delayed_until
        assert not attempt(platform, clock, alice, password="wrong password!")
    assert waits == [2, 4, 8, 8, 8]
    assert failures(platform, alice) == 7
    clock.advance(3600)
    assert not attempt(platform, clock, alice), "hard-locked: even the right password fails"
    assert rules(platform)[-1] == "account-locked"
    assert rules(platform).count("account-delayed") == 5
    assert failures(platform, alice) == 7, "refused attempts test nothing and count nothing"


def test_a_success_resets_the_count(platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    assert not attempt(platform, clock, alice, password="wrong password!")
    assert failures(platform, alice) == 1
    assert attempt(platform, clock, alice)
    assert failures(platform, alice) == 0


def test_otp_failures_feed_the_lockout(platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    wrong = str((int(alice.code(clock.now.timestamp())) + 1) % 1_000_000).zfill(6)
    assert not attempt(platform, clock, alice, otp=wrong)
    assert not attempt(platform, clock, alice, otp="12ab")
    assert failures(platform, alice) == 2
    assert rules(platform) == ["wrong-otp", "wrong-otp"]


def test_admin_unlock_via_cli(
    platform: Platform, clock: Clock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    alice = make_user(platform)
    hard = dataclasses.replace(SMALL, account_free_failures=10, hard_threshold=3)
    for _ in range(3):
        assert not attempt(platform, clock, alice, password="wrong password!", policy=hard)
    assert not attempt(platform, clock, alice, policy=hard)
    result = CliRunner().invoke(app, ["users", "unlock", "alice"])
    assert result.exit_code == 0, result.output
    assert attempt(platform, clock, alice, policy=hard)
    unlocked = entries(platform, "user:unlocked")
    assert [(e["failures"], e["locked"], e["actor"]) for e in unlocked] == [(3, True, "cli")]
    missing = CliRunner().invoke(app, ["users", "unlock", "nobody"])
    assert missing.exit_code == 2


def test_unknown_wrong_and_locked_get_the_same_answer(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    bob = make_user(platform, "bob")
    with unit_of_work(platform.sessions) as session:
        locked = session.get(User, bob.id)
        assert locked is not None
        locked.locked_at = clock.now
    chat = Chat(client, clock)
    forms = [
        {"username": "nobody", "password": alice.password, "otp": "123456"},
        {"username": "alice", "password": "wrong password!", "otp": "123456"},
        {"username": "alice", "password": alice.password, "otp": "000000"},
        {"username": "bob", "password": bob.password, "otp": bob.code(clock.now.timestamp())},
    ]
    path = chat.link("login")  # one link: five tries
    answers = [client.post(path, data=form) for form in forms]
    assert {response.status_code for response in answers} == {401}
    assert len({response.text for response in answers}) == 1
    assert rules(platform) == ["unknown-user", "wrong-password", "wrong-otp", "account-locked"]


def test_failures_count_across_doors(client: TestClient, platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    form = {"username": "alice", "password": "wrong password!", "otp": "123456"}
    assert client.post(chat.link("login"), data=form).status_code == 401
    assert not attempt(platform, clock, alice, password="wrong password!", channel="console")
    clock.advance(60)  # past the delay the second failure earned
    assert not attempt(platform, clock, alice, password="wrong password!", channel="api")
    assert failures(platform, alice) == 3
    channels = [e["channel"] for e in entries(platform, "authn:failed")]
    assert channels == ["chat-link:webchat", "console", "api"]


def test_spraying_is_slowed_per_source_without_locking_the_victims(
    platform: Platform, clock: Clock
) -> None:
    policy = dataclasses.replace(SMALL, source_free_failures=3)
    victims = [make_user(platform, f"victim{n}") for n in range(6)]
    attacker = "203.0.113.7"
    for victim in victims:
        assert not attempt(
            platform, clock, victim, password="Summer2026!", ip=attacker, policy=policy
        )
    assert rules(platform) == ["wrong-password"] * 3 + ["source-delayed"] * 3
    assert [failures(platform, v) for v in victims] == [1, 1, 1, 0, 0, 0]
    for victim in victims:  # from their own addresses the victims log in at once
        assert attempt(platform, clock, victim, ip="192.0.2.10", policy=policy)
        clock.advance(30)


def test_an_ipv6_source_is_its_64_and_mapped_ipv4_is_ipv4() -> None:
    assert lockout.source_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert lockout.source_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert lockout.source_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert lockout.source_key("not an address") == lockout.UNKNOWN_SOURCE
    assert lockout.source_key(None) == lockout.UNKNOWN_SOURCE


def test_the_hard_threshold_is_at_most_100() -> None:
    with pytest.raises(ValueError, match="1-100"):
        LockoutPolicy(hard_threshold=101)


def _racers(platform: Platform) -> int:
    """50 on PostgreSQL (row locks); SQLite serialises whole transactions behind one write lock
    with a 30 s busy timeout, so there 20 race, which on a loaded 2-core machine still fits."""
    return 50 if platform.engine.dialect.name == "postgresql" else 20


def _race(platform: Platform, clock: Clock, user: TestUser, policy: LockoutPolicy) -> list[bool]:
    racers = _racers(platform)
    start = threading.Barrier(racers)

    def one(n: int) -> bool:
        start.wait()
        return attempt(
            platform, clock, user, password="wrong password!", ip=f"198.51.100.{n}", policy=policy
        )

    with ThreadPoolExecutor(max_workers=racers) as pool:
        return list(pool.map(one, range(racers)))


def test_fifty_parallel_failures_count_exactly(platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    no_delay = dataclasses.replace(SMALL, account_free_failures=100, hard_threshold=100)
    racers = _racers(platform)
    assert _race(platform, clock, alice, no_delay) == [False] * racers
    assert failures(platform, alice) == racers
    assert rules(platform) == ["wrong-password"] * racers


def test_fifty_parallel_attempts_test_exactly_the_free_failures(
    platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    policy = dataclasses.replace(SMALL, account_free_failures=5, hard_threshold=100)
    racers = _racers(platform)
    assert _race(platform, clock, alice, policy) == [False] * racers
    assert failures(platform, alice) == 5, "the delay starts after 5, even when all race"
    decided = rules(platform)
    assert sorted(decided) == sorted(["wrong-password"] * 5 + ["account-delayed"] * (racers - 5))
    with unit_of_work(platform.sessions) as session:
        assert session.scalars(select(User.failed_logins).where(User.id == alice.id)).one() == 5
