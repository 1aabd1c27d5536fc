"""One `Case` per adapter for the contract suite: how to make a genuine and a forged request in
the platform's wire format, what reached the platform, and how to make the platform fail."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from dealchat.channels.config import (
    SlackSettings,
    TeamsSettings,
    TelegramSettings,
    WeChatSettings,
    WhatsAppSettings,
)
from dealchat.channels.interfaces import (
    ChannelAdapter,
    DeliveryFailed,
    OutboundMessage,
    WebhookRequest,
)
from dealchat.channels.matrix.adapter import MatrixAdapter
from dealchat.channels.matrix.sender import SendReport, content_of
from dealchat.channels.slack.adapter import SlackAdapter
from dealchat.channels.teams.adapter import TeamsAdapter
from dealchat.channels.telegram.adapter import TelegramAdapter
from dealchat.channels.webchat.adapter import WebchatAdapter
from dealchat.channels.wechat.adapter import WeChatAdapter
from dealchat.channels.whatsapp.adapter import WhatsAppAdapter
from tests.channels.fakes import FakeAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.slack import wire as slack_signing
from tests.channels.teams import wire as teams_wire
from tests.channels.telegram import wire as telegram_wire
from tests.channels.wechat import wire as wechat_wire
from tests.channels.whatsapp import wire as whatsapp_wire
from tests.channels.wire_common import load

PUBLIC_URL = "http://127.0.0.1:8000"


@dataclass
class Case:
    adapter: ChannelAdapter
    path: str
    conversation: str  # the conversation id the adapter's messages carry
    message: Callable[[str, str, float], WebhookRequest]  # (text, message id, now) -> genuine
    forged: Callable[[str, str, float], WebhookRequest]
    delivered: Callable[[], list[dict[str, Any]]] | None  # None: replies go in the HTTP answer
    text_of: Callable[[dict[str, Any]], str]  # a delivered call's visible text
    fail_next: Callable[[int, dict[str, str]], None] | None = None


def _webchat(stack: ExitStack) -> Case:
    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        body = {
            "conversation_id": "conv-contract-1",
            "sender_id": "sender-contract-1",
            "message_id": message_id,
            "text": text,
        }
        return WebhookRequest(
            "POST",
            "/api/v1/webchat/messages",
            {"content-type": "application/json", "origin": PUBLIC_URL},
            {},
            json.dumps(body).encode(),
        )

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        genuine = message(text, message_id, now)
        headers = {**genuine.headers, "origin": "https://evil.example.net"}
        return WebhookRequest(genuine.method, genuine.path, headers, {}, genuine.body)

    return Case(
        WebchatAdapter(PUBLIC_URL),
        "/api/v1/webchat/messages",
        "conv-contract-1",
        message,
        forged,
        None,
        lambda call: str(call["text"]),
    )


def _fake(stack: ExitStack) -> Case:
    adapter = FakeAdapter()

    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        body = json.dumps(
            {
                "conversation_id": "fake-conv-1",
                "sender_id": "fake-user-1",
                "message_id": message_id,
                "text": text,
            }
        ).encode()
        headers = {"x-fake-signature": adapter.sign(body)}
        return WebhookRequest("POST", "/channels/fake/webhook", headers, {}, body)

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        genuine = message(text, message_id, now)
        return WebhookRequest(
            "POST", genuine.path, {"x-fake-signature": "0" * 64}, {}, genuine.body
        )

    def fail_next(status: int, headers: dict[str, str]) -> None:
        retry = float(headers["Retry-After"]) if "Retry-After" in headers else None
        adapter.failures.append(DeliveryFailed("scripted", retry_after=retry, status=status))

    return Case(
        adapter,
        "/channels/fake/webhook",
        "fake-conv-1",
        message,
        forged,
        lambda: [adapter.render(conv, msg) for conv, msg in adapter.sent],
        lambda call: str(call["text"]) + ("" if call["link"] is None else "\n" + call["link"]),
        fail_next,
    )


def _slack(stack: ExitStack) -> Case:
    server: PlatformServer = stack.enter_context(
        platform_server({"/api/chat.postMessage": lambda call: Answer(body={"ok": True})})
    )
    settings = SlackSettings(
        enabled=True,
        api_url=f"{server.url}/api",
        signing_secret=slack_signing.SECRET,  # type: ignore[arg-type]
        bot_token=slack_signing.TOKEN,  # type: ignore[arg-type]
    )
    adapter = SlackAdapter(settings, client=stack.enter_context(httpx.Client()))

    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        body = slack_signing.fixture("message_im", text=text, ts=message_id)
        return slack_signing.request(body, int(now))

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        body = slack_signing.fixture("message_im", text=text, ts=message_id)
        return slack_signing.request(body, int(now), secret="not-the-signing-secret")

    def fail_next(status: int, headers: dict[str, str]) -> None:
        server.answer_next(Answer(status, {"ok": False, "error": "ratelimited"}, headers))

    return Case(
        adapter,
        "/channels/slack/webhook",
        "T061EG9R6:D024BE91L",
        message,
        forged,
        lambda: [call.json() for call in server.calls],
        lambda call: str(call["text"]),
        fail_next,
    )


def _telegram(stack: ExitStack) -> Case:
    server: PlatformServer = stack.enter_context(platform_server())
    settings = TelegramSettings(
        enabled=True,
        api_url=server.url,
        bot_token=telegram_wire.BOT_TOKEN,  # type: ignore[arg-type]
        secret_token=telegram_wire.SECRET_TOKEN,  # type: ignore[arg-type]
    )
    adapter = TelegramAdapter(settings, client=stack.enter_context(httpx.Client()))
    ok = load("telegram", "sendMessage_ok")
    server.defaults[f"/bot{telegram_wire.BOT_TOKEN}/sendMessage"] = lambda call: Answer(body=ok)

    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        return telegram_wire.request(telegram_wire.update(date=int(now), text=text, mid=message_id))

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        body = telegram_wire.update(date=int(now), text=text, mid=message_id)
        return telegram_wire.request(body, secret="guessed-secret-token-0000000000")

    def fail_next(status: int, headers: dict[str, str]) -> None:
        server.answer_next(
            Answer(
                status,
                load("telegram", "sendMessage_429")
                | {"parameters": {"retry_after": int(headers["Retry-After"])}},
            )
        )

    return Case(
        adapter,
        telegram_wire.PATH,
        "112233445",
        message,
        forged,
        lambda: [call.json() for call in server.calls],
        lambda call: str(call["text"]),
        fail_next,
    )


def _whatsapp(stack: ExitStack) -> Case:
    server: PlatformServer = stack.enter_context(platform_server())
    settings = WhatsAppSettings(
        enabled=True,
        api_url=server.url,
        phone_number_id=whatsapp_wire.PHONE_ID,
        app_secret=whatsapp_wire.APP_SECRET,  # type: ignore[arg-type]
        verify_token=whatsapp_wire.VERIFY_TOKEN,  # type: ignore[arg-type]
        access_token=whatsapp_wire.ACCESS_TOKEN,  # type: ignore[arg-type]
    )
    adapter = WhatsAppAdapter(settings, client=stack.enter_context(httpx.Client()))

    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        body = whatsapp_wire.notification(timestamp=int(now), text=text, mid=message_id)
        return whatsapp_wire.request(body)

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        body = whatsapp_wire.notification(timestamp=int(now), text=text, mid=message_id)
        return whatsapp_wire.request(body, secret="not-the-app-secret")

    def fail_next(status: int, headers: dict[str, str]) -> None:
        server.answer_next(Answer(status, load("whatsapp", "messages_throttled"), headers))

    return Case(
        adapter,
        whatsapp_wire.PATH,
        f"{whatsapp_wire.PHONE_ID}:16505551234",
        message,
        forged,
        lambda: [call.json() for call in server.calls],
        lambda call: str(call["text"]["body"]),
        fail_next,
    )


def _teams(stack: ExitStack) -> Case:
    server: PlatformServer = stack.enter_context(platform_server())
    server.defaults.update(teams_wire.routes(server.url))
    service = f"{server.url}/"
    settings = TeamsSettings(
        enabled=True,
        app_id=teams_wire.APP_ID,
        app_password=teams_wire.APP_PASSWORD,  # type: ignore[arg-type]
        openid_url=f"{server.url}/openid",
        token_url=f"{server.url}/token",
        service_urls=[service],
    )
    adapter = TeamsAdapter(settings, client=stack.enter_context(httpx.Client()))
    conversation = load("teams", "message")["conversation"]["id"]

    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        body = teams_wire.activity(service, now=at, text=text, mid=message_id)
        return teams_wire.request(body, teams_wire.token(service, now=at))

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        body = teams_wire.activity(service, now=at, text=text, mid=message_id)
        return teams_wire.request(body, teams_wire.token(service, now=at, key=teams_wire.OTHER_KEY))

    def fail_next(status: int, headers: dict[str, str]) -> None:
        server.answer_next(Answer(body=load("teams", "token")))  # the token call comes first
        server.answer_next(Answer(status, {"error": {"code": "Throttled"}}, headers))

    return Case(
        adapter,
        teams_wire.PATH,
        f"{service}|{conversation}",
        message,
        forged,
        lambda: [call.json() for call in teams_wire.activities(server.calls)],
        lambda call: str(call["text"]),
        fail_next,
    )


def _wechat(stack: ExitStack) -> Case:
    server: PlatformServer = stack.enter_context(platform_server())
    server.defaults["/cgi-bin/token"] = lambda call: Answer(body=load("wechat", "token"))
    settings = WeChatSettings(
        enabled=True,
        api_url=server.url,
        app_id=wechat_wire.APP_ID,
        token=wechat_wire.TOKEN,  # type: ignore[arg-type]
        app_secret=wechat_wire.APP_SECRET,  # type: ignore[arg-type]
        encoding_aes_key=wechat_wire.AES_KEY,  # type: ignore[arg-type]
    )
    adapter = WeChatAdapter(settings, client=stack.enter_context(httpx.Client()))
    nonces = iter(range(10_000_000, 99_999_999))

    def message(text: str, message_id: str, now: float) -> WebhookRequest:
        body = wechat_wire.xml(text=text, mid=message_id)
        nonce = str(next(nonces))
        return wechat_wire.request(body, timestamp=int(now), nonce=nonce, encrypted=True)

    def forged(text: str, message_id: str, now: float) -> WebhookRequest:
        body = wechat_wire.xml(text=text, mid=message_id)
        return wechat_wire.request(body, timestamp=int(now), token="guessed", encrypted=True)

    def fail_next(status: int, headers: dict[str, str]) -> None:
        server.answer_next(
            Answer(status, {"errcode": 45009, "errmsg": "api freq out of limit"}, headers)
        )

    return Case(
        adapter,
        wechat_wire.PATH,
        "oLVPpjqs2BhvzwPj5A-vTYAX3GLc",
        message,
        forged,
        lambda: [c.json() for c in server.calls if c.path.endswith("/custom/send")],
        lambda call: str(call["text"]["content"]),
        fail_next,
    )


class _FakeMatrixTransport:
    """Stands in for the running Matrix bot (7a's MatrixRunner) behind MatrixAdapter."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, OutboundMessage]] = []
        self.reports: list[SendReport] = []

    def send(self, room_id: str, messages: Sequence[OutboundMessage]) -> SendReport:
        if self.reports:
            return self.reports.pop(0)
        self.sent.extend((room_id, message) for message in messages)
        return SendReport(event_ids=[f"$e{len(self.sent)}"])


def _matrix(stack: ExitStack) -> Case:
    """Matrix messages arrive by the bot's sync, never by webhook: every webhook request is one
    to refuse, and the outbound half of the contract is checked through the adapter."""
    transport = _FakeMatrixTransport()
    room = "!dealchat:bank.example"

    def request(text: str, message_id: str, now: float) -> WebhookRequest:
        body = json.dumps({"room_id": room, "event_id": message_id, "body": text}).encode()
        return WebhookRequest("POST", "/channels/matrix/webhook", {}, {}, body)

    def fail_next(status: int, headers: dict[str, str]) -> None:
        retry = float(headers["Retry-After"])
        transport.reports.append(
            SendReport(failed=True, error="M_LIMIT_EXCEEDED", retry_after=retry)
        )

    return Case(
        MatrixAdapter(transport),
        "/channels/matrix/webhook",
        room,
        request,
        request,
        lambda: [content_of(message) for _, message in transport.sent],
        lambda call: str(call["body"]),
        fail_next,
    )


BUILDERS: dict[str, Callable[[ExitStack], Case]] = {
    "webchat": _webchat,
    "fake": _fake,
    "slack": _slack,
    "telegram": _telegram,
    "whatsapp": _whatsapp,
    "teams": _teams,
    "wechat": _wechat,
    "matrix": _matrix,
}
SYNC_ONLY = {"matrix"}  # no webhook: inbound by the bot's sync, so no genuine request to make


def build(name: str) -> Iterator[Case]:
    with ExitStack() as stack:
        yield BUILDERS[name](stack)
