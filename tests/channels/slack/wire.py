"""Sign a Slack request as Slack does (v0 scheme)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx

from dealchat.channels.config import SlackSettings
from dealchat.channels.interfaces import WebhookRequest
from dealchat.channels.slack.adapter import SlackAdapter

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"
FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str, **event: Any) -> bytes:
    payload = json.loads((FIXTURES / f"{name}.json").read_text())
    if event:
        payload["event"].update(event)
    return json.dumps(payload).encode()


def headers(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    base = f"v0:{timestamp}:".encode() + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "x-slack-request-timestamp": str(timestamp),
        "x-slack-signature": signature,
        "content-type": "application/json",
    }


def request(body: bytes, timestamp: int, secret: str = SECRET) -> WebhookRequest:
    return WebhookRequest(
        "POST", "/channels/slack/webhook", headers(body, timestamp, secret), {}, body
    )


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def adapter(client: httpx.Client, api_url: str = "http://127.0.0.1:9/api") -> SlackAdapter:
    """A Slack adapter with this file's secrets (its API at `api_url`, by default nowhere)."""
    settings = SlackSettings(
        enabled=True, api_url=api_url,
        signing_secret=SECRET, bot_token=TOKEN,  # type: ignore[arg-type]
    )  # fmt: skip
    return SlackAdapter(settings, client=client)
