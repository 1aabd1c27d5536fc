"""Bot messages into a Matrix room: in order, with retries, honouring the homeserver's rate limits.

Every retry of one message reuses its transaction id, so a send whose response was lost is
deduplicated by the homeserver instead of appearing twice. `M_LIMIT_EXCEEDED` waits the server's
`retry_after_ms` when that is short (up to `max_retry_after`), else gives up with the wait in the
report so the outbox can pause the channel; transport and server errors back off exponentially;
a refusal (`M_FORBIDDEN`, ...) is final.
"""

from __future__ import annotations

import asyncio
import html
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from nio import AsyncClient, RoomSendResponse

from dealchat.channels.interfaces import OutboundMessage

log = logging.getLogger("dealchat.channels.matrix")

FINAL_ERRORS = frozenset(
    {"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_TOKEN", "M_MISSING_TOKEN", "M_BAD_JSON", "M_NOT_JSON"}
)
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class SendReport:
    """What one `send` did: the event ids delivered (in order) and what it had to wait for."""

    event_ids: list[str] = field(default_factory=list)
    rate_limited: int = 0
    retried: int = 0
    failed: bool = False
    error: str | None = None
    permanent: bool = False
    retry_after: float | None = None


def content_of(message: OutboundMessage) -> dict[str, Any]:
    """An `m.notice` (bots answer with notices so that other bots do not answer back)."""
    body = message.text if message.link is None else f"{message.text}\n{message.link}"
    formatted = html.escape(message.text).replace("\n", "<br>")
    if message.link is not None:
        href = html.escape(message.link, quote=True)
        formatted = f'{formatted}<br><a href="{href}">{href}</a>'
    return {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }


def transaction_id(message: OutboundMessage, position: int = 0) -> str:
    """The Matrix transaction id: the homeserver answers a repeated one (same access token) with
    the first send's event instead of posting again. From the outbox key, so a retry after a lost
    answer or a restart does not put the reply in the room twice; random when there is no key."""
    key = message.key if message.key is not None else uuid.uuid4().hex
    return f"dealchat.{key}.{position}"


class Sender:
    def __init__(
        self,
        client: AsyncClient,
        *,
        attempts: int = 6,
        max_retry_after: float = 60.0,
        first_backoff: float = 0.5,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.attempts, self.max_retry_after = attempts, max_retry_after
        self.first_backoff, self.sleep = first_backoff, sleep

    async def send(self, room_id: str, messages: Sequence[OutboundMessage]) -> SendReport:
        """Send `messages` in order; stops at the first one that cannot be delivered."""
        report = SendReport()
        for position, message in enumerate(messages):
            txn = transaction_id(message, position)
            event_id = await self._send_one(room_id, content_of(message), txn, report)
            if event_id is None:
                report.failed = True
                break
            report.event_ids.append(event_id)
        return report

    async def _send_one(
        self, room_id: str, content: dict[str, Any], txn: str, report: SendReport
    ) -> str | None:
        backoff = self.first_backoff
        for attempt in range(1, self.attempts + 1):
            wait = backoff
            try:
                response = await self.client.room_send(
                    room_id, "m.room.message", content, tx_id=txn
                )
            except (aiohttp.ClientError, TimeoutError) as error:
                report.error = type(error).__name__
                log.warning("matrix send to %s failed (%s), attempt %d", room_id, error, attempt)
            else:
                if isinstance(response, RoomSendResponse):
                    return str(response.event_id)
                code = response.status_code or ""
                report.error = code or "unknown error"
                if code in FINAL_ERRORS:
                    log.error("matrix send to %s refused: %s", room_id, code)
                    report.permanent = True
                    return None
                if code == "M_LIMIT_EXCEEDED":
                    report.rate_limited += 1
                    wait = (response.retry_after_ms or 1000) / 1000
                    if wait > self.max_retry_after:
                        report.retry_after = wait
                        return None
                log.warning("matrix send to %s: %s, attempt %d", room_id, code, attempt)
            if attempt < self.attempts:
                report.retried += 1
                await self.sleep(wait)
                backoff = min(backoff * 2, self.max_retry_after)
        log.error("matrix send to %s gave up after %d attempts", room_id, self.attempts)
        return None
