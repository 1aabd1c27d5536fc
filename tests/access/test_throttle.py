"""The per-source throttle of requests without a valid session or token (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from dealchat.access.throttle import SourceThrottle, source_key

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
    throttle = SourceThrottle(limit=1, capacity=2)
    for n in range(10):
        throttle.check(f"198.51.100.{n}", T0)
    assert len(throttle._counts) == 2


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        SourceThrottle(limit=0)
