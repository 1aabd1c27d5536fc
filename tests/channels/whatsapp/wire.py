"""WhatsApp Cloud API notifications as Meta posts them, signed with the app secret."""

from __future__ import annotations

import hashlib
import hmac
import json

from dealchat.channels.interfaces import WebhookRequest
from tests.channels.wire_common import load

APP_SECRET = "a5f5c9d3e2b14f7e9c0d1b2a3f4e5d6c"
VERIFY_TOKEN = "meatball-verify-7b"
ACCESS_TOKEN = "EAAJB7sGZC0ZBMBAGZB9ZCexampleZCcloudZCapiZCtoken"
PHONE_ID = "106540352242922"
PATH = "/channels/whatsapp/webhook"


def notification(
    name: str = "text_message", *, timestamp: int, text: str | None = None, mid: str | None = None
) -> bytes:
    payload = load("whatsapp", name)
    value = payload["entry"][0]["changes"][0]["value"]
    for message in value.get("messages", []):
        message["timestamp"] = str(timestamp)
        if text is not None:
            message["text"]["body"] = text
        if mid is not None:
            message["id"] = mid
    return json.dumps(payload).encode()


def request(body: bytes, secret: str = APP_SECRET) -> WebhookRequest:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-hub-signature-256": signature}
    return WebhookRequest("POST", PATH, headers, {}, body)
