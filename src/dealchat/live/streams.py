"""Server-Sent Events: a stream that reads what is new whenever its topics are published.

`event_stream(read, ...)` calls `read(after)` (a blocking database read, run in the thread pool)
once at the start and again each time the hub wakes the subscription (never on a timer: the
hub hears this process's commits, and `live.watcher` other processes'), and sends each item as an
SSE event whose id is the item's number, so a browser reconnecting sends `Last-Event-ID` and
resumes exactly where it was. A comment every `keepalive` seconds keeps proxies from closing an
idle stream and notices a page that has gone. A stream ends after `lifetime` seconds (the
browser reconnects by itself), so access is checked again at least that often, and within a
second once the server stops (`app.state.stopping`, set by `dealchat serve`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from dealchat.live.hub import Hub

HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
CHECK_SECONDS = 1.0  # how often a quiet stream looks whether its page has gone
Read = Callable[[int], Sequence[tuple[int, str, dict[str, Any]]]]  # after -> (id, event, data)


def last_event_id(request: Request, given: int | None) -> int:
    """Where a stream resumes: the browser's Last-Event-ID, else the page's own `after`."""
    header = request.headers.get("last-event-id", "")
    if header.isdigit() and len(header) <= 18:
        return int(header)
    return max(given or 0, 0)


def event_stream(
    request: Request,
    hub: Hub,
    topics: Iterable[str],
    read: Read,
    *,
    after: int,
    keepalive: float = 15.0,
    lifetime: float = 300.0,
) -> StreamingResponse:
    wanted = frozenset(topics)

    stopping = getattr(request.app.state, "stopping", None)  # set by `dealchat serve` as it stops

    def stopped() -> bool:
        return stopping is not None and stopping.is_set()

    async def events() -> AsyncIterator[str]:
        position, ends, quiet = after, time.monotonic() + lifetime, 0.0
        subscription = hub.subscribe(wanted)  # before the first read: no change slips between
        try:
            yield "retry: 1000\n\n"
            woken = True  # read once at the start, then only when a topic is published
            while time.monotonic() < ends and not stopped() and not await request.is_disconnected():
                if woken:
                    for number, kind, data in await run_in_threadpool(read, position):
                        position = max(position, number)
                        yield _event(number, kind, data)
                woken = await subscription.wait(CHECK_SECONDS)
                if woken:
                    quiet = 0.0
                    continue
                quiet += CHECK_SECONDS
                if quiet >= keepalive:
                    quiet = 0.0
                    yield ": keep-alive\n\n"
        finally:
            hub.unsubscribe(subscription)

    return StreamingResponse(events(), media_type="text/event-stream", headers=HEADERS)


def _event(number: int, kind: str, data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {number}\nevent: {kind}\ndata: {text}\n\n"
