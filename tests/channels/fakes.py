"""The test fake adapter: an HMAC-signed JSON webhook and an in-memory 'platform' it sends to.
It passes the same contract suite as the real adapters."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

from dealchat.channels.interfaces import (
    DeliveryFailed,
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)


class FakeAdapter:
    name = "fake"

    def __init__(self, secret: bytes = b"fake-secret") -> None:
        self.secret = secret
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.failures: list[DeliveryFailed] = []

    def sign(self, body: bytes) -> str:
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        given = request.header("x-fake-signature") or ""
        if not hmac.compare_digest(self.sign(request.body), given):
            raise Rejected("bad fake signature")

    def parse(self, request: WebhookRequest) -> Parsed:
        body = json.loads(request.body)
        return Parsed(messages=[InboundMessage(channel=self.name, **body)])

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        return {"to": conversation_id, "text": message.text, "link": message.link}

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.extend((conversation_id, message) for message in messages)
