"""The in-process hub: subscribers wait on topics, publishers wake them (from any thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable

EVERYTHING = "*"  # a subscriber of every topic (the desk's list of conversations)


class Subscription:
    """One waiting page: woken when any of its topics is published."""

    def __init__(self, topics: frozenset[str], loop: asyncio.AbstractEventLoop) -> None:
        self.topics = topics
        self._loop = loop
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:
        """True when woken, False after `timeout` seconds; ready for the next wait either way."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        self._event.clear()
        return True


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()

    def subscribe(self, topics: Iterable[str]) -> Subscription:
        """Subscribe the running event loop's task to `topics`."""
        subscription = Subscription(frozenset(topics), asyncio.get_running_loop())
        with self._lock:
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)

    def count(self, topic: str) -> int:
        with self._lock:
            return sum(1 for s in self._subscriptions if topic in s.topics)

    def publish(self, topics: Iterable[str]) -> None:
        wanted = set(topics)
        if not wanted:
            return
        with self._lock:
            woken = [s for s in self._subscriptions if EVERYTHING in s.topics or s.topics & wanted]
        for subscription in woken:
            try:
                subscription.wake()
            except RuntimeError:  # its loop has closed: the page is gone
                self.unsubscribe(subscription)
