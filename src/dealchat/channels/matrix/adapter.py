"""`MatrixAdapter`: the Matrix side of `channels.interfaces.ChannelAdapter`.

Matrix messages reach us by the bot's sync, never by webhook: `verify` refuses every request to
`/channels/matrix/webhook` (401), so nothing can be slipped in as a Matrix client's message.
`send` delivers one queued bot message into its room through the running bot and maps what went
wrong to `DeliveryFailed` for the outbox dispatcher (a refusal is permanent; a long rate-limit
wait comes back as `retry_after`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from dealchat.channels.interfaces import (
    DeliveryFailed,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)
from dealchat.channels.matrix.sender import SendReport, content_of

NAME = "matrix"


class Transport(Protocol):
    def send(self, room_id: str, messages: Sequence[OutboundMessage]) -> SendReport: ...


class MatrixAdapter:
    name = NAME

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        raise Rejected("Matrix messages arrive by the bot's sync, never by webhook")

    def parse(self, request: WebhookRequest) -> Parsed:
        raise ValueError("Matrix has no webhook payloads")

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        return content_of(message)

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        try:
            report = self.transport.send(conversation_id, messages)
        except RuntimeError as error:  # the bot is not running, or the send timed out
            raise DeliveryFailed(f"matrix: {error}") from error
        if report.failed:
            raise DeliveryFailed(
                f"matrix: {report.error or 'not delivered'}",
                permanent=report.permanent,
                retry_after=report.retry_after,
            )
