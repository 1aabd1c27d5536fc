"""One `Case` per adapter for the contract suite: how to make a genuine and a forged request in
the platform's wire format, what reached the platform, and how to make the platform fail."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from dealchat.channels.config import SlackSettings
from dealchat.channels.interfaces import ChannelAdapter, DeliveryFailed, WebhookRequest
from dealchat.channels.slack.adapter import SlackAdapter
from dealchat.channels.webchat.adapter import WebchatAdapter
from tests.channels import slack_signing
from tests.channels.fakes import FakeAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server

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


BUILDERS: dict[str, Callable[[ExitStack], Case]] = {
    "webchat": _webchat,
    "fake": _fake,
    "slack": _slack,
}


def build(name: str) -> Iterator[Case]:
    with ExitStack() as stack:
        yield BUILDERS[name](stack)
