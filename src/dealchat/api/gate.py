"""A bound on requests working at once.

SQLite has one writer at a time, and a request's dependencies (the access decision, written to
the log, takes the write lock) and its route run on different threads of the server's pool. With
more requests waiting for the lock than the pool has threads, the request holding the lock waits
for a thread to finish its route and none frees up: everything stalls until the busy timeout
fails them all. The gate lets a bounded number of requests in at once (the rest wait in the event
loop, holding no thread); a stream leaves the gate once its response has started, since from then
on it only reads. PostgreSQL locks rows, not the database, but past a few requests at once more
threads only contend for the interpreter's lock and the same rows: under a burst the CPU a
message costs rises by half and everything waits (`app.REQUESTS_AT_ONCE`).
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STREAM = b"text/event-stream"
UNGATED = frozenset({"/healthz"})  # touches no database


class RequestGate:
    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self._limit = limit
        self._slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def _for_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()  # a server has one; test clients may each have theirs
        if loop not in self._slots:
            self._slots[loop] = asyncio.Semaphore(self._limit)
        return self._slots[loop]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNGATED:
            await self.app(scope, receive, send)
            return
        slots = self._for_this_loop()
        await slots.acquire()
        held = [True]

        def leave() -> None:
            if held[0]:
                held[0] = False
                slots.release()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and _streams(message):
                leave()
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            leave()


def _streams(message: MutableMapping[str, Any]) -> bool:
    headers = message.get("headers") or []
    return any(name == b"content-type" and value.startswith(STREAM) for name, value in headers)
