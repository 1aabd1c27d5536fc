"""Telegram updates as Telegram posts them."""

from __future__ import annotations

import json

from dealchat.channels.interfaces import WebhookRequest
from tests.channels.wire_common import load

BOT_TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET_TOKEN = "s3cr3t-T0ken_from-setWebhook-1234"
PATH = "/channels/telegram/webhook"


def update(
    name: str = "text_message", *, date: int, text: str | None = None, mid: str | None = None
) -> bytes:
    payload = load("telegram", name)
    message = payload.get("message") or payload["edited_message"]
    message["date"] = date
    if text is not None:
        message["text"] = text
    if mid is not None:
        message["message_id"] = mid
    return json.dumps(payload).encode()


def request(body: bytes, secret: str = SECRET_TOKEN) -> WebhookRequest:
    headers = {"content-type": "application/json", "x-telegram-bot-api-secret-token": secret}
    return WebhookRequest("POST", PATH, headers, {}, body)
