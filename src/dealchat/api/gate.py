"""A bound on requests working at once.

SQLite has one writer at a time, and a request's dependencies (the access decision, written to
the log, takes the write lock) and its route run on different threads of the server's pool. With
more requests waiting for the lock than the pool has threads, the request holding the lock waits
for a thread to finish its route and none frees up: everything stalls until the busy timeout
fails them all. The gate lets a bounded number of requests in at once (the rest wait in the event
loop, holding no thread); a stream leaves the gate once its response has started, since from then
on it only reads. PostgreSQL locks rows, not the database, but past a few requests at once more
threads only contend for the interpreter's lock and the same rows: under a burst the CPU a
message costs rises by half and everything waits (`app.REQUESTS_AT_ONCE`). The front layer
(`api.front.Front`) holds each request in the gate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

STREAM = b"text/event-stream"
UNGATED = frozenset({"/healthz"})  # touches no database


class Gate:
    """At most `limit` requests inside at once, per event loop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def slots(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # a server has one; test clients may each have theirs
        found = self._slots.get(loop)
        if found is None:
            found = self._slots[loop] = asyncio.Semaphore(self.limit)
        return found


def streams(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a response with these (lower-case) headers is a stream of events."""
    return any(name == b"content-type" and value.startswith(STREAM) for name, value in headers)
