"""Throttling requests that present no valid session or token, per source address.

Every such request is denied and the denial goes to the access log. Unlimited, anyone could make
the log grow, and every signed-in request wait on its append, as fast as they can send requests.
So past `limit` unauthenticated requests from one source within `window`, the rest of that window
is answered 429 with Retry-After and not recorded one by one: only the first refused request of a
window is, saying that throttling started. Pure and in memory, per process: it bounds what each
process writes, which is what it protects. IPv6 sources count per /64, like the lockout.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from dealchat.access.counting import Counted, Counter, MemoryCounter


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    first_refusal: bool = False  # record this one: the source's window just went over
    retry_after: int = 0  # seconds until the window ends


class SourceThrottle:
    def __init__(
        self,
        *,
        limit: int = 30,
        window: dt.timedelta = dt.timedelta(minutes=1),
        capacity: int = 100_000,
        name: str = "anonymous",
        counter: Counter | None = None,
    ) -> None:
        if limit < 1 or window <= dt.timedelta(0) or capacity < 1:
            raise ValueError("a throttle needs a positive limit, window and capacity")
        self.limit, self.window, self.name = limit, window, name
        self._counter = counter if counter is not None else MemoryCounter(capacity)

    def check(self, source: str | None, now: dt.datetime) -> Verdict:
        """Count one unauthenticated request from `source` at `now`."""
        return self.count(source_key(source), now)

    def count(self, key: str, now: dt.datetime) -> Verdict:
        """Count one request under `key` (an address as `source_key` gives it, or any other
        key a rate limit counts by) at `now`."""
        started, count = self._counter.count(self.name, key, self.window, now)
        return self.verdict(started, count, now)

    def verdict(self, started: dt.datetime, count: int, now: dt.datetime) -> Verdict:
        """What the `count`th request of the window begun at `started` gets."""
        if count <= self.limit:
            return Verdict(allowed=True)
        left = (started + self.window - now).total_seconds()
        return Verdict(False, first_refusal=count == self.limit + 1, retry_after=math.ceil(left))


def source_key(source: str | None) -> str:
    """The address as counted: IPv4 as it is, IPv6 by its /64, anything else as given."""
    if not source:
        return "unknown"
    try:
        address = ipaddress.ip_address(source)
    except ValueError:
        return source[:64]
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True)
class RateLimit:
    name: str
    per_window: int  # the default; DEALCHAT_LIMITS__PER_MINUTE overrides it by name
    window: dt.timedelta = dt.timedelta(minutes=1)


class RateLimits:
    """The windows of every declared limit, per key, counted by one counter."""

    def __init__(
        self, per_minute: dict[str, int] | None = None, *, counter: Counter | None = None
    ) -> None:
        self._overrides = dict(per_minute or {})
        self._counter = counter if counter is not None else MemoryCounter()
        self._throttles: dict[str, SourceThrottle] = {}
        self._lock = threading.Lock()

    def allowed(self, limit: RateLimit) -> int:
        return self._overrides.get(limit.name, limit.per_window)

    def check(self, limit: RateLimit, key: str, now: dt.datetime) -> Verdict:
        return self._throttle(limit).count(key, now)

    def check_in_turn(
        self, checks: Sequence[tuple[RateLimit, str]], now: dt.datetime
    ) -> tuple[RateLimit, Verdict] | None:
        """Count each (limit, key) in turn, one counter call for all, until one refuses: that
        limit and its verdict, or None when every one allows. Those after a refusal are not
        counted (a request one limit refuses uses up none of the next ones)."""
        throttles = [self._throttle(limit) for limit, _key in checks]
        counts = [
            Counted(limit.name, key, limit.window, throttle.limit)
            for (limit, key), throttle in zip(checks, throttles, strict=True)
        ]
        made = self._counter.count_in_turn(counts, now)
        for (limit, _key), throttle, (started, count) in zip(checks, throttles, made, strict=False):
            verdict = throttle.verdict(started, count, now)
            if not verdict.allowed:
                return limit, verdict
        return None

    def _throttle(self, limit: RateLimit) -> SourceThrottle:
        with self._lock:
            throttle = self._throttles.get(limit.name)
            if throttle is None:
                throttle = SourceThrottle(
                    limit=self.allowed(limit),
                    window=limit.window,
                    name=limit.name,
                    counter=self._counter,
                )
                self._throttles[limit.name] = throttle
        return throttle
