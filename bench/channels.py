"""Webhook verification and the edge-core envelope, against same-process baselines.

For each webhook adapter: signed requests verified and parsed per second (every request
distinct, as the replay guards demand), against one HMAC-SHA256 over the same body. For the edge
link: envelopes sealed and opened per second, against one AES-256-GCM encrypt and decrypt of the
same payload. Writes bench/results/channels.json.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dealchat.channels.config import (
    SlackSettings,
    TelegramSettings,
    WeChatSettings,
    WhatsAppSettings,
)
from dealchat.channels.interfaces import WebhookRequest
from dealchat.channels.link import Link, load_or_create_identity
from dealchat.channels.slack.adapter import SlackAdapter
from dealchat.channels.telegram.adapter import TelegramAdapter
from dealchat.channels.wechat import crypto
from dealchat.channels.wechat.adapter import WeChatAdapter
from dealchat.channels.whatsapp.adapter import WhatsAppAdapter

HERE = Path(__file__).resolve().parent
N = 2_000
RUNS = 3
SECRET = "bench-signing-secret-0123456789abcdef"  # noqa: S105 - a benchmark's own key
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
T = int(NOW.timestamp())


def _body(i: int) -> bytes:
    event = {
        "type": "message",
        "channel": "D1",
        "user": "U1",
        "text": "mkt eurusd 1m",
        "ts": f"{T}.{i:06d}",
    }
    return json.dumps({"type": "event_callback", "team_id": "T1", "event": event}).encode()


def slack_requests() -> tuple[Callable[[], object], list[WebhookRequest]]:
    def make() -> SlackAdapter:
        return SlackAdapter(SlackSettings(enabled=True, signing_secret=SECRET, bot_token=SECRET))  # type: ignore[arg-type]

    requests = []
    for i in range(N):
        body = _body(i)
        sig = (
            "v0="
            + hmac.new(SECRET.encode(), f"v0:{T}:".encode() + body, hashlib.sha256).hexdigest()
        )
        headers = {"x-slack-request-timestamp": str(T), "x-slack-signature": sig}
        requests.append(WebhookRequest("POST", "/", headers, {}, body))
    return make, requests


def whatsapp_requests() -> tuple[Callable[[], object], list[WebhookRequest]]:
    def make() -> WhatsAppAdapter:
        settings = WhatsAppSettings(
            enabled=True,
            phone_number_id="1",
            app_secret=SECRET,
            verify_token=SECRET,
            access_token=SECRET,
        )  # type: ignore[arg-type]
        return WhatsAppAdapter(settings)

    requests = []
    for i in range(N):
        message = {
            "from": "1650",
            "id": f"wamid.{i}",
            "timestamp": str(T),
            "type": "text",
            "text": {"body": "mkt eurusd 1m"},
        }
        body = json.dumps(
            {"entry": [{"changes": [{"field": "messages", "value": {"messages": [message]}}]}]}
        ).encode()
        sig = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        requests.append(WebhookRequest("POST", "/", {"x-hub-signature-256": sig}, {}, body))
    return make, requests


def telegram_requests() -> tuple[Callable[[], object], list[WebhookRequest]]:
    def make() -> TelegramAdapter:
        return TelegramAdapter(
            TelegramSettings(enabled=True, bot_token=SECRET, secret_token=SECRET)
        )  # type: ignore[arg-type]

    requests = []
    for i in range(N):
        message = {
            "message_id": i,
            "from": {"id": 1},
            "chat": {"id": 1},
            "date": T,
            "text": "mkt eurusd 1m",
        }
        body = json.dumps({"update_id": i, "message": message}).encode()
        requests.append(
            WebhookRequest("POST", "/", {"x-telegram-bot-api-secret-token": SECRET}, {}, body)
        )
    return make, requests


def wechat_requests() -> tuple[Callable[[], object], list[WebhookRequest]]:
    def make() -> WeChatAdapter:
        settings = WeChatSettings(
            enabled=True, app_id="wx1", token=SECRET, app_secret=SECRET, encoding_aes_key=AES_KEY
        )  # type: ignore[arg-type]
        return WeChatAdapter(settings)

    key = crypto.aes_key(AES_KEY)
    requests = []
    for i in range(N):
        inner = (
            "<xml><FromUserName>o1</FromUserName><MsgType>text</MsgType>"
            f"<Content>mkt eurusd 1m</Content><MsgId>{i}</MsgId></xml>"
        )
        sealed = crypto.encrypt(inner.encode(), key, "wx1")
        nonce = str(i)
        query = {
            "timestamp": str(T),
            "nonce": nonce,
            "encrypt_type": "aes",
            "signature": crypto.signature(SECRET, str(T), nonce),
            "msg_signature": crypto.signature(SECRET, str(T), nonce, sealed),
        }
        body = f"<xml><Encrypt>{sealed}</Encrypt></xml>".encode()
        requests.append(WebhookRequest("POST", "/", {}, query, body))
    return make, requests


def rate(run: Callable[[], None], count: int) -> float:
    best = float("inf")
    for _ in range(RUNS):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return count / best


def adapter_figure(
    builder: Callable[[], tuple[Callable[[], object], list[WebhookRequest]]],
) -> dict[str, float]:
    make, requests = builder()

    def target() -> None:
        adapter = make()  # a fresh replay memory each run: the same requests are new to it
        for request in requests:
            adapter.verify(request, now=NOW)  # type: ignore[attr-defined]
            adapter.parse(request)  # type: ignore[attr-defined]

    def baseline() -> None:
        for request in requests:
            hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()

    target_rate, base_rate = rate(target, N), rate(baseline, N)
    return {
        "requests_per_s": round(target_rate),
        "baseline_per_s": round(base_rate),
        "ratio_to_baseline": round(target_rate / base_rate, 4),
    }


def link_figure() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        edge_id = load_or_create_identity(Path(tmp) / "e", "edge")
        core_id = load_or_create_identity(Path(tmp) / "c", "core")
    payload = {
        "messages": [
            {
                "channel": "slack",
                "conversation_id": "T1:C1",
                "sender_id": "T1:U1",
                "message_id": "1",
                "text": "mkt eurusd 1m",
            }
        ]
    }
    count = N // 4

    def target() -> None:
        edge = Link(edge_id, core_id.certificate, role="edge", peer_role="core")
        core = Link(core_id, edge_id.certificate, role="core", peer_role="edge")
        for _ in range(count):
            core.open(edge.seal(payload))

    aead, raw = AESGCM(secrets.token_bytes(32)), json.dumps(payload).encode()

    def baseline() -> None:
        for _ in range(count):
            nonce = os.urandom(12)
            aead.decrypt(nonce, aead.encrypt(nonce, raw, None), None)

    target_rate, base_rate = rate(target, count), rate(baseline, count)
    return {
        "envelopes_per_s": round(target_rate),
        "baseline_per_s": round(base_rate),
        "ratio_to_baseline": round(target_rate / base_rate, 6),
    }


def main() -> None:
    figures = {
        "slack_verify_parse": adapter_figure(slack_requests),
        "whatsapp_verify_parse": adapter_figure(whatsapp_requests),
        "telegram_verify_parse": adapter_figure(telegram_requests),
        "wechat_aes_verify_parse": adapter_figure(wechat_requests),
        "edge_link_seal_open": link_figure(),
    }
    result = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "requests": N,
        "figures": figures,
    }
    (HERE / "results" / "channels.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
