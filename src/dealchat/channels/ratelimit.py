"""Per-platform token buckets, and pauses when a platform answers 429 with Retry-After."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass


@dataclass
class _Bucket:
    rate: float
    burst: int
    tokens: float
    at: dt.datetime | None = None
    paused_until: dt.datetime | None = None


class RateLimiter:
    """`limits` maps a channel to (messages per second, burst). Unlisted channels are unlimited."""

    def __init__(self, limits: dict[str, tuple[float, int]]) -> None:
        self._buckets = {
            name: _Bucket(rate, burst, float(burst)) for name, (rate, burst) in limits.items()
        }
        self._lock = threading.Lock()

    def wait(self, channel: str, now: dt.datetime) -> float:
        """0 and a token taken when one may send now; else the seconds until one may."""
        with self._lock:
            bucket = self._buckets.get(channel)
            if bucket is None:
                return 0.0
            if bucket.paused_until is not None and now < bucket.paused_until:
                return (bucket.paused_until - now).total_seconds()
            if bucket.at is not None:
                elapsed = max((now - bucket.at).total_seconds(), 0.0)
                bucket.tokens = min(float(bucket.burst), bucket.tokens + elapsed * bucket.rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / bucket.rate

    def pause(self, channel: str, until: dt.datetime) -> None:
        with self._lock:
            bucket = self._buckets.setdefault(channel, _Bucket(1e9, 1_000_000, 1e6))
            if bucket.paused_until is None or until > bucket.paused_until:
                bucket.paused_until = until
