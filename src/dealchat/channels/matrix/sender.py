"""Replies into a Matrix room: in order, with retries, honouring the homeserver's rate limits.

Each reply has a transaction id derived from the message it answers, so sending it again (after a
lost response, or when the inbound event is redelivered) is deduplicated by the homeserver instead
of appearing twice in the room. `M_LIMIT_EXCEEDED` waits `retry_after_ms` (capped); transport
errors and other server errors back off exponentially; a refusal (`M_FORBIDDEN`, ...) is final.
"""

from __future__ import annotations

import asyncio
import hashlib
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


def content_of(message: OutboundMessage, answering: str | None = None) -> dict[str, Any]:
    """An `m.notice` (bots answer with notices so other bots do not answer back), marked as a
    reply to the event it answers."""
    body = message.text if message.link is None else f"{message.text}\n{message.link}"
    formatted = html.escape(message.text).replace("\n", "<br>")
    if message.link is not None:
        href = html.escape(message.link, quote=True)
        formatted = f'{formatted}<br><a href="{href}">{href}</a>'
    content: dict[str, Any] = {
        "msgtype": "m.notice",
        "body": body,
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
    }
    if answering is not None:
        content["m.relates_to"] = {"m.in_reply_to": {"event_id": answering}}
    return content


def transaction_id(answering: str | None, position: int) -> str:
    """Stable for a reply to a given event, so the homeserver deduplicates a re-send."""
    if answering is None:
        return f"dealchat.{uuid.uuid4().hex}"
    digest = hashlib.sha256(answering.encode()).hexdigest()[:32]
    return f"dealchat.{digest}.{position}"


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

    async def send(
        self, room_id: str, messages: Sequence[OutboundMessage], *, answering: str | None = None
    ) -> SendReport:
        """Send `messages` in order; stops at the first one that cannot be delivered."""
        report = SendReport()
        for position, message in enumerate(messages):
            txn = transaction_id(answering, position)
            event_id = await self._send_one(room_id, content_of(message, answering), txn, report)
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
                log.warning("matrix send to %s failed (%s), attempt %d", room_id, error, attempt)
            else:
                if isinstance(response, RoomSendResponse):
                    return str(response.event_id)
                code = response.status_code or ""
                if code in FINAL_ERRORS:
                    log.error("matrix send to %s refused: %s", room_id, code)
                    return None
                if code == "M_LIMIT_EXCEEDED":
                    report.rate_limited += 1
                    wait = min((response.retry_after_ms or 1000) / 1000, self.max_retry_after)
                log.warning("matrix send to %s: %s, attempt %d", room_id, code, attempt)
            if attempt < self.attempts:
                report.retried += 1
                await self.sleep(wait)
                backoff = min(backoff * 2, self.max_retry_after)
        log.error("matrix send to %s gave up after %d attempts", room_id, self.attempts)
        return None
