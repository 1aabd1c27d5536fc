"""The outbox and its dispatcher, on SQLite and PostgreSQL: replies are queued in the message's
transaction, delivered after commit in order, retried with backoff and jitter, held back by
per-platform rate limits and Retry-After, dead-lettered after N tries; every outcome audited."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import DeliveryFailed, InboundMessage
from dealchat.channels.outbox import DEAD, DELIVERED, PENDING, OutboxItem
from dealchat.channels.outbox_dispatch import Dispatcher, RetryPolicy
from dealchat.channels.ratelimit import RateLimiter
from dealchat.conversations.desk import handle_inbound
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.channels.fakes import FakeAdapter
from tests.conftest import Clock

POLICY = RetryPolicy(max_attempts=3, base_seconds=10, cap_seconds=100, lease_seconds=60)


def _say(platform: Platform, text: str, *, conversation: str = "c-1", mid: str = "m-1") -> None:
    message = InboundMessage("fake", conversation, "u-1", mid, text)
    with unit_of_work(platform.sessions) as session:
        handle_inbound(session, message=message, desk=platform.desk)


def _items(platform: Platform) -> list[OutboxItem]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(OutboxItem).order_by(OutboxItem.created_at)))


def _events(platform: Platform, prefix: str = "delivery:") -> list[str]:
    with unit_of_work(platform.sessions) as session:
        events = session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)).all()
    return [event for event in events if event.startswith(prefix)]


def _dispatcher(
    platform: Platform, fake: FakeAdapter, clock: Clock, limiter: RateLimiter | None = None
) -> Dispatcher:
    return Dispatcher(
        platform.sessions,
        {"fake": fake},
        platform.desk,
        policy=POLICY,
        limiter=limiter,
        clock=clock,
        rng=random.Random(7),
    )


def test_replies_are_queued_with_the_message_and_not_when_it_rolls_back(
    platform: Platform,
) -> None:
    def answer_then_fail() -> None:
        with unit_of_work(platform.sessions) as session:
            message = InboundMessage("fake", "c-1", "u-1", "m-0", "hello")
            handle_inbound(session, message=message, desk=platform.desk)
            assert session.scalars(select(OutboxItem)).all()
            raise RuntimeError("the request failed after answering")

    with pytest.raises(RuntimeError):
        answer_then_fail()
    assert _items(platform) == []
    _say(platform, "hello")
    with unit_of_work(platform.sessions) as session:
        out = session.scalars(select(Message.id).where(Message.direction == "out")).all()
    assert sorted(item.message_id for item in _items(platform)) == sorted(out)
    assert {item.state for item in _items(platform)} == {PENDING}


def test_delivery_after_commit_is_recorded(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    _say(platform, "mkt eurusd 1m")
    assert _dispatcher(platform, fake, clock).run_once() == 1
    [(conversation, sent)] = fake.sent
    assert conversation == "c-1"
    assert sent.link is not None  # the sealed secure link is opened for delivery only
    assert "/link/" in sent.link
    [item] = _items(platform)
    assert item.state == DELIVERED
    assert item.attempts == 1
    assert _events(platform) == ["delivery:succeeded"]
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        payloads = session.scalars(select(AuditEntry.payload)).all()
    assert not [p for p in payloads if sent.link in p], "a bearer link never reaches the audit log"


def test_a_failure_retries_after_backoff_with_jitter(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    fake.failures.append(DeliveryFailed("http 503", status=503))
    dispatcher = _dispatcher(platform, fake, clock)
    _say(platform, "hello")
    assert dispatcher.run_once() == 1
    [item] = _items(platform)
    wait = (item.next_attempt_at - clock.now).total_seconds()
    assert POLICY.base_seconds / 2 <= wait <= POLICY.base_seconds
    assert item.state == PENDING
    assert item.last_error == "http 503"
    assert dispatcher.run_once() == 0  # not due yet
    clock.advance(wait)
    assert dispatcher.run_once() == 1
    assert _items(platform)[0].state == DELIVERED
    assert _events(platform) == ["delivery:failed", "delivery:succeeded"]


def test_backoff_grows_exponentially_to_the_cap() -> None:
    rng = random.Random(1)
    policy = RetryPolicy(base_seconds=2, cap_seconds=60)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (5, 32), (6, 60), (20, 60)]:
        delays = {policy.delay(attempt, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered, not one fixed value


def test_out_of_tries_is_dead_lettered(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    fake.failures.extend(DeliveryFailed("http 502", status=502) for _ in range(5))
    dispatcher = _dispatcher(platform, fake, clock)
    _say(platform, "hello")
    for _ in range(POLICY.max_attempts):
        assert dispatcher.run_once() == 1
        clock.advance(POLICY.cap_seconds)
    assert dispatcher.run_once() == 0
    [item] = _items(platform)
    assert item.state == DEAD
    assert item.attempts == POLICY.max_attempts
    assert _events(platform) == ["delivery:failed", "delivery:failed", "delivery:dead_lettered"]
    assert fake.sent == []


def test_a_permanent_failure_is_dead_lettered_at_once(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    fake.failures.append(DeliveryFailed("slack: channel_not_found", permanent=True))
    _say(platform, "hello")
    assert _dispatcher(platform, fake, clock).run_once() == 1
    assert _items(platform)[0].state == DEAD
    assert _events(platform) == ["delivery:dead_lettered"]


def test_retry_after_pauses_the_whole_platform(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    fake.failures.append(DeliveryFailed("rate limited", retry_after=120, status=429))
    dispatcher = _dispatcher(platform, fake, clock)
    _say(platform, "hello", conversation="c-1", mid="m-1")
    assert dispatcher.run_once() == 1
    _say(platform, "hello", conversation="c-2", mid="m-2")
    clock.advance(60)
    assert dispatcher.run_once() == 0  # paused: neither conversation is tried
    clock.advance(61)
    assert dispatcher.run_once() == 2
    assert [conversation for conversation, _ in fake.sent] == ["c-1", "c-2"]


def test_the_rate_limit_defers_without_spending_a_try(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    dispatcher = _dispatcher(platform, fake, clock, RateLimiter({"fake": (1.0, 2)}))
    for n in range(3):
        _say(platform, "hello", conversation=f"c-{n}", mid=f"m-{n}")
    assert dispatcher.run_once() == 2
    waiting = [item for item in _items(platform) if item.state == PENDING]
    assert [item.attempts for item in waiting] == [0]
    clock.advance(1)
    assert dispatcher.run_once() == 1
    assert len(fake.sent) == 3


def test_replies_in_one_conversation_keep_their_order(platform: Platform, clock: Clock) -> None:
    fake = FakeAdapter()
    fake.failures.append(DeliveryFailed("http 500", status=500))
    dispatcher = _dispatcher(platform, fake, clock)
    _say(platform, "hello", mid="m-1")
    _say(platform, "status", mid="m-2")
    assert dispatcher.run_once() == 1  # the first failed; the second waits behind it
    clock.advance(POLICY.base_seconds)
    while dispatcher.run_once():
        pass
    texts = [message.text for _, message in fake.sent]
    assert texts[0].startswith("I take FX and bond orders")
    assert len(texts) == 2
