"""Slack Events API (https://api.slack.com/authentication/verifying-requests-from-slack).

In: `X-Slack-Signature: v0=hex(HMAC-SHA256(signing_secret, "v0:" + timestamp + ":" + body))` with
`X-Slack-Request-Timestamp` within 5 minutes; the same signature twice is a replay. The first
request of a new app is `url_verification`, answered with its challenge. Messages are `message`
(and `app_mention`) events; bot messages and edits (any subtype) are ignored so we never answer
ourselves. The conversation is `team:channel`, the message id the event's `ts` (unique per channel,
the same on Slack's redeliveries).

Out: `POST {api_url}/chat.postMessage` with the bot token; `{"ok": false, "error": ...}` answers
are mapped to retryable (ratelimited, internal_error...) or permanent (channel_not_found...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import httpx

from dealchat.channels import http
from dealchat.channels.config import SlackSettings
from dealchat.channels.interfaces import (
    DeliveryFailed,
    HttpAnswer,
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)

NAME = "slack"
_RETRYABLE = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


class SlackAdapter:
    name = NAME

    def __init__(self, settings: SlackSettings, *, client: httpx.Client | None = None) -> None:
        self._secret = settings.secret("signing_secret").encode("utf-8")
        self._token = settings.secret("bot_token")
        self._api = settings.api_url.rstrip("/")
        self._window = dt.timedelta(seconds=settings.max_age_seconds)
        self.replays = http.ReplayGuard(self._window)
        self._client = client or httpx.Client(timeout=http.TIMEOUT)

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        stamp = request.header("x-slack-request-timestamp")
        given = request.header("x-slack-signature") or ""
        http.check_fresh(http.epoch(stamp), now=now, window=self._window)
        base = b"v0:" + (stamp or "").encode("ascii") + b":" + request.body
        expected = "v0=" + hmac.new(self._secret, base, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace")):
            raise Rejected("bad slack signature")
        self.replays.check(given, now=now)

    def release(self, request: WebhookRequest) -> None:
        self.replays.release(request.header("x-slack-signature") or "")

    def check(self) -> str:
        """`auth.test` with the bot token: which workspace and bot it is."""
        response = http.post(
            self._client,
            f"{self._api}/auth.test",
            json={},
            headers={"Authorization": f"Bearer {self._token}"},
        )
        body = http.json_body(response)
        if body.get("ok") is not True:
            raise DeliveryFailed(f"slack: {body.get('error', 'unknown')}", permanent=True)
        return f"team {body.get('team')} as {body.get('user')}"

    def parse(self, request: WebhookRequest) -> Parsed:
        payload = _json(request.body)
        if payload.get("type") == "url_verification":
            challenge = str(payload.get("challenge", ""))
            return Parsed(answer=HttpAnswer(challenge.encode("utf-8")))
        if payload.get("type") != "event_callback":
            return Parsed()
        event = payload.get("event")
        if not isinstance(event, dict) or not _from_a_person(event):
            return Parsed()
        team = str(payload.get("team_id") or event.get("team") or "")
        message = InboundMessage(
            channel=NAME,
            conversation_id=f"{team}:{event['channel']}",
            sender_id=f"{team}:{event['user']}",
            message_id=str(event["ts"]),
            text=_without_mention(str(event["text"])),
        )
        return Parsed(messages=[message])

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        _team, _, channel = conversation_id.partition(":")
        return {
            "channel": channel,
            "text": http.with_link(message.text, message.link),
            "unfurl_links": False,
            "unfurl_media": False,
        }

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        for message in messages:
            response = http.post(
                self._client,
                f"{self._api}/chat.postMessage",
                json=self.render(conversation_id, message),
                headers={"Authorization": f"Bearer {self._token}"},
            )
            body = http.json_body(response)
            if body.get("ok") is not True:
                error = str(body.get("error", "unknown"))
                raise DeliveryFailed(
                    f"slack: {error}",
                    permanent=error not in _RETRYABLE,
                    retry_after=http.retry_after(response),
                    status=response.status_code,
                )


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise ValueError("body is not JSON") from error
    if not isinstance(payload, dict):
        raise ValueError("body is not a JSON object")
    return payload


def _from_a_person(event: dict[str, Any]) -> bool:
    if event.get("type") not in ("message", "app_mention"):
        return False
    if event.get("subtype") or event.get("bot_id"):
        return False
    fields = ("channel", "user", "ts", "text")
    return all(isinstance(event.get(name), str) and event.get(name) for name in fields)


def _without_mention(text: str) -> str:
    """`<@U0BOT> mkt eurusd 1m` -> `mkt eurusd 1m` (an app_mention starts with the bot's id)."""
    stripped = text.strip()
    if stripped.startswith("<@") and ">" in stripped:
        stripped = stripped.split(">", 1)[1].strip()
    return stripped or text
