"""Telegram Bot API webhooks (https://core.telegram.org/bots/api#setwebhook).

In: every update carries `X-Telegram-Bot-Api-Secret-Token`, the secret we gave setWebhook
(compared in constant time). Telegram signs nothing else, so freshness is the message's `date`
within `max_age_seconds`; a repeated update within it is answered once (handle_inbound dedups by
message id). Only text messages from people are read; the conversation is the chat id.

Out: `POST {api_url}/bot<token>/sendMessage`; `{"ok": false, "error_code": 429,
"parameters": {"retry_after": N}}` is a rate limit with its delay.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from typing import Any

import httpx

from dealchat.channels import http
from dealchat.channels.config import TelegramSettings
from dealchat.channels.interfaces import (
    DeliveryFailed,
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)

NAME = "telegram"


class TelegramAdapter:
    name = NAME

    def __init__(self, settings: TelegramSettings, *, client: httpx.Client | None = None) -> None:
        self._secret = settings.secret("secret_token").encode("utf-8")
        self._token = settings.secret("bot_token")
        self._api = settings.api_url.rstrip("/")
        self._window = dt.timedelta(seconds=settings.max_age_seconds)
        self._client = client or httpx.Client(timeout=http.TIMEOUT)

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        given = (request.header("x-telegram-bot-api-secret-token") or "").encode("utf-8")
        if not hmac.compare_digest(self._secret, given):
            raise Rejected("bad telegram secret token")
        message = _message(_json(request.body))
        if message is not None:
            http.check_fresh(http.epoch(message.get("date")), now=now, window=self._window)

    def parse(self, request: WebhookRequest) -> Parsed:
        message = _message(_json(request.body))
        if message is None:
            return Parsed()
        sender = message.get("from") or {}
        text = message.get("text")
        if sender.get("is_bot") or not isinstance(text, str) or not text.strip():
            return Parsed()
        inbound = InboundMessage(
            channel=NAME,
            conversation_id=str(message["chat"]["id"]),
            sender_id=str(sender.get("id", message["chat"]["id"])),
            message_id=str(message["message_id"]),
            text=text,
        )
        return Parsed(messages=[inbound])

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        return {
            "chat_id": conversation_id,
            "text": http.with_link(message.text, message.link),
            "link_preview_options": {"is_disabled": True},
        }

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        for message in messages:
            response = http.call(
                self._client,
                "POST",
                f"{self._api}/bot{self._token}/sendMessage",
                json=self.render(conversation_id, message),
            )
            _check(response)

    def check(self) -> str:
        """`getMe`: the bot the token belongs to."""
        response = http.call(self._client, "POST", f"{self._api}/bot{self._token}/getMe", json={})
        _check(response)
        return f"bot @{response.json()['result'].get('username')}"


def _check(response: httpx.Response) -> None:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        http.check_status(response)
        raise DeliveryFailed("answer is not a JSON object", status=response.status_code)
    if body.get("ok") is True:
        return
    code = int(body.get("error_code") or response.status_code)
    parameters = body.get("parameters") or {}
    if code == 429 or "retry_after" in parameters:
        retry = float(parameters.get("retry_after", 1))
        raise DeliveryFailed("telegram: rate limited", retry_after=retry, status=code)
    # a user who blocked the bot (403) or a chat that is gone (400) will not get better
    reason = f"telegram: {code} {str(body.get('description', ''))[:100]}"
    raise DeliveryFailed(reason, permanent=400 <= code < 500, status=code)


def _json(body: bytes) -> dict[str, Any]:
    try:
        update = json.loads(body)
    except ValueError as error:
        raise Rejected("body is not JSON") from error
    if not isinstance(update, dict):
        raise Rejected("body is not a JSON object")
    return update


def _message(update: dict[str, Any]) -> dict[str, Any] | None:
    message = update.get("message")
    if not isinstance(message, dict):
        return None  # edits, channel posts, callbacks: nothing we answer
    chat = message.get("chat")
    if not isinstance(chat, dict) or "id" not in chat or "message_id" not in message:
        return None
    return message
