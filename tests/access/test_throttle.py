"""The per-source throttle of requests without a valid session or token, counted in memory
(pure) and in the database, where two processes count together."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from dealchat.access.counting import DatabaseCounter, MemoryCounter
from dealchat.access.throttle import RateLimit, RateLimits, SourceThrottle, source_key
from dealchat.api.deps import Platform

T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def test_each_source_has_its_own_window_and_the_first_refusal_is_marked() -> None:
    throttle = SourceThrottle(limit=3, window=dt.timedelta(seconds=60))
    seen = [throttle.check("192.0.2.1", T0 + dt.timedelta(seconds=i)) for i in range(5)]
    assert [v.allowed for v in seen] == [True, True, True, False, False]
    assert [v.first_refusal for v in seen] == [False, False, False, True, False]
    assert seen[3].retry_after == 57
    assert throttle.check("192.0.2.2", T0).allowed  # another source
    assert throttle.check("192.0.2.1", T0 + dt.timedelta(seconds=60)).allowed  # a new window


def test_ipv6_counts_per_64_and_memory_is_bounded() -> None:
    assert source_key("2001:db8:1:2:3::9") == source_key("2001:db8:1:2:ffff::1")
    assert source_key("2001:db8:1:3::1") != source_key("2001:db8:1:2::1")
    assert source_key(None) == "unknown"
    counter = MemoryCounter(capacity=2)
    throttle = SourceThrottle(limit=1, counter=counter)
    for n in range(10):
        throttle.check(f"198.51.100.{n}", T0)
    assert len(counter) == 2


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        SourceThrottle(limit=0)


def test_two_processes_on_one_database_count_together(platform: Platform) -> None:
    """Each process has its own counter object; both count in the same rows."""
    one, two = DatabaseCounter(platform.engine), DatabaseCounter(platform.engine)
    limit = RateLimit("webchat-conversation", 3)
    first, second = RateLimits(counter=one), RateLimits(counter=two)
    start = T0 + dt.timedelta(seconds=10)  # windows are on the minute: this one ends at 12:01
    seen = [
        (first if n % 2 else second).check(limit, "conv-a", start + dt.timedelta(seconds=n))
        for n in range(5)
    ]
    assert [v.allowed for v in seen] == [True, True, True, False, False]
    assert [v.first_refusal for v in seen] == [False, False, False, True, False]
    assert seen[3].retry_after == 60 - 13
    assert first.check(limit, "conv-b", start).allowed  # another key
    assert second.check(limit, "conv-a", T0 + dt.timedelta(minutes=1)).allowed  # the next window
    anonymous = SourceThrottle(limit=1, counter=one)
    assert anonymous.check("192.0.2.1", start).allowed
    assert not SourceThrottle(limit=1, counter=two).check("192.0.2.1", start).allowed


def test_a_count_survives_the_database_dropping_its_connection(platform: Platform) -> None:
    """PostgreSQL counts on a pool of their own with no ping first: a connection the database
    closed (a restart) fails, and the count is made once more on a new one."""
    if platform.engine.dialect.name != "postgresql":
        pytest.skip("SQLite counts in the engine's own transactions")
    counter = DatabaseCounter(platform.engine)
    limits = RateLimits(counter=counter)
    limit = RateLimit("webchat-conversation", 3)
    assert limits.check(limit, "conv-a", T0).allowed
    pooled = counter._engine.raw_connection()  # the connection the first count used
    (pid,) = pooled.cursor().execute("SELECT pg_backend_pid()").fetchone()
    pooled.close()
    with platform.engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    seen = [limits.check(limit, "conv-a", T0) for _ in range(3)]
    assert [v.allowed for v in seen] == [True, True, False]


def test_limits_counted_in_turn_stop_at_the_first_refusal(platform: Platform) -> None:
    """The web chat's source and conversation in one count (one statement on PostgreSQL): a
    request the source refuses is not counted under its conversation."""
    source, conversation = RateLimit("webchat-source", 3), RateLimit("webchat-conversation", 2)
    start = T0 + dt.timedelta(seconds=10)
    for counter in (MemoryCounter(), DatabaseCounter(platform.engine)):
        limits = RateLimits(counter=counter)
        seen = [
            limits.check_in_turn([(source, "192.0.2.1"), (conversation, "conv-a")], start)
            for _ in range(4)
        ]
        assert seen[:2] == [None, None]
        assert seen[2] is not None
        assert seen[3] is not None
        assert (seen[2][0], seen[2][1].first_refusal) == (conversation, True)
        assert (seen[3][0], seen[3][1].first_refusal) == (source, True)
        assert 1 <= seen[3][1].retry_after <= 60
        _started, counted = counter.count(
            "webchat-conversation", "conv-a", conversation.window, start
        )
        assert counted == 4, "the request the source refused was not counted under conv-a"
