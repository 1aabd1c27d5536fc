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
from dataclasses import dataclass

from dealchat.access.counting import Counter, MemoryCounter


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
        return throttle.count(key, now)
