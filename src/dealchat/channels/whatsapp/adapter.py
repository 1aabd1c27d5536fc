"""WhatsApp Cloud API webhooks (Meta Graph API).

Subscribing: `GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...` is answered with the
challenge only when the verify token matches. Notifications: `X-Hub-Signature-256: sha256=` +
hex(HMAC-SHA256(app_secret, raw body)); each message's `timestamp` must be within the window, and
the same signed body presented twice within it is a replay. Text messages are read; status
updates (sent, delivered, read) are not messages. The conversation is `phone_number_id:wa_id`.

Out: `POST {api_url}/{phone_number_id}/messages` with a type `text` message; Graph errors with a
throttling code (4, 80007, 130429, 131048, 131056) are rate limits, other 4xx are permanent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import httpx

from dealchat.channels import http
from dealchat.channels.config import WhatsAppSettings
from dealchat.channels.interfaces import (
    DeliveryFailed,
    HttpAnswer,
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)

NAME = "whatsapp"
_THROTTLED = {4, 80007, 130429, 131048, 131056}


class WhatsAppAdapter:
    name = NAME

    def __init__(self, settings: WhatsAppSettings, *, client: httpx.Client | None = None) -> None:
        self._app_secret = settings.secret("app_secret").encode("utf-8")
        self._verify_token = settings.secret("verify_token").encode("utf-8")
        self._access_token = settings.secret("access_token")
        self._api = settings.api_url.rstrip("/")
        self._phone = settings.phone_number_id
        self._window = dt.timedelta(seconds=settings.max_age_seconds)
        self.replays = http.ReplayGuard(self._window)
        self._client = client or httpx.Client(timeout=http.TIMEOUT)

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        if request.method == "GET":
            given = (request.query.get("hub.verify_token") or "").encode("utf-8")
            if request.query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
                self._verify_token, given
            ):
                raise Rejected("bad whatsapp verify token")
            return
        given_sig = request.header("x-hub-signature-256") or ""
        expected = "sha256=" + hmac.new(self._app_secret, request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given_sig.encode("ascii", "replace")):
            raise Rejected("bad whatsapp signature")
        for message in _messages(_json(request.body)):
            http.check_fresh(http.epoch(message.get("timestamp")), now=now, window=self._window)
        self.replays.check(given_sig, now=now)

    def release(self, request: WebhookRequest) -> None:
        self.replays.release(request.header("x-hub-signature-256") or "")

    def parse(self, request: WebhookRequest) -> Parsed:
        if request.method == "GET":
            challenge = request.query.get("hub.challenge", "")
            return Parsed(answer=HttpAnswer(challenge.encode("utf-8")))
        found = []
        for value, message in _with_values(_json(request.body)):
            text = (message.get("text") or {}).get("body")
            if message.get("type") != "text" or not isinstance(text, str) or not text.strip():
                continue
            phone = str(value.get("metadata", {}).get("phone_number_id", self._phone))
            found.append(
                InboundMessage(
                    channel=NAME,
                    conversation_id=f"{phone}:{message['from']}",
                    sender_id=str(message["from"]),
                    message_id=str(message["id"]),
                    text=text,
                )
            )
        return Parsed(messages=found)

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        _phone, _, wa_id = conversation_id.rpartition(":")
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": wa_id,
            "type": "text",
            "text": {"preview_url": False, "body": http.with_link(message.text, message.link)},
        }

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        phone = conversation_id.rpartition(":")[0] or self._phone
        for message in messages:
            response = http.call(
                self._client,
                "POST",
                f"{self._api}/{phone}/messages",
                json=self.render(conversation_id, message),
                headers={"Authorization": f"Bearer {self._access_token}"},
            )
            _check(response)

    def check(self) -> str:
        """The business phone number the access token may send from."""
        response = http.call(
            self._client,
            "GET",
            f"{self._api}/{self._phone}",
            headers={"Authorization": f"Bearer {self._access_token}"},
        )
        _check(response)
        return f"phone number {http.json_body(response).get('display_phone_number', self._phone)}"


def _check(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error, dict) else None
    if code in _THROTTLED:
        retry = http.retry_after(response) or 60.0
        raise DeliveryFailed(f"whatsapp: throttled ({code})", retry_after=retry, status=429)
    http.check_status(response)


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise Rejected("body is not JSON") from error
    if not isinstance(payload, dict):
        raise Rejected("body is not a JSON object")
    return payload


def _with_values(payload: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for entry in payload.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            if change.get("field") != "messages" or not isinstance(value, dict):
                continue
            for message in value.get("messages") or []:
                if isinstance(message, dict) and message.get("id") and message.get("from"):
                    yield value, message


def _messages(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for _value, message in _with_values(payload):
        yield message
