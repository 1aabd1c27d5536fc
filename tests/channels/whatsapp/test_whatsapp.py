"""WhatsApp specifics: the verify-token handshake, X-Hub-Signature-256, the timestamp window,
status updates, and Graph API errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.config import WhatsAppSettings
from dealchat.channels.interfaces import DeliveryFailed, OutboundMessage, Rejected, WebhookRequest
from dealchat.channels.whatsapp.adapter import WhatsAppAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.whatsapp import wire
from tests.channels.wire_common import load

NOW = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)
T = int(NOW.timestamp())


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with platform_server() as running:
        yield running


@pytest.fixture
def whatsapp(server: PlatformServer) -> Iterator[WhatsAppAdapter]:
    settings = WhatsAppSettings(
        enabled=True,
        api_url=server.url,
        phone_number_id=wire.PHONE_ID,
        app_secret=wire.APP_SECRET,  # type: ignore[arg-type]
        verify_token=wire.VERIFY_TOKEN,  # type: ignore[arg-type]
        access_token=wire.ACCESS_TOKEN,  # type: ignore[arg-type]
    )
    with httpx.Client() as client:
        yield WhatsAppAdapter(settings, client=client)


def _handshake(token: str, mode: str = "subscribe") -> WebhookRequest:
    query = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": "1158201444"}
    return WebhookRequest("GET", wire.PATH, {}, query, b"")


def test_the_handshake_echoes_the_challenge_for_the_right_token(
    whatsapp: WhatsAppAdapter,
) -> None:
    request = _handshake(wire.VERIFY_TOKEN)
    whatsapp.verify(request, now=NOW)
    answer = whatsapp.parse(request).answer
    assert answer is not None
    assert answer.body == b"1158201444"


@pytest.mark.parametrize(("token", "mode"), [("wrong", "subscribe"), (wire.VERIFY_TOKEN, "x")])
def test_the_handshake_refuses_a_wrong_token_or_mode(
    whatsapp: WhatsAppAdapter, token: str, mode: str
) -> None:
    with pytest.raises(Rejected):
        whatsapp.verify(_handshake(token, mode), now=NOW)


def test_the_handshake_through_the_app(platform: Platform, whatsapp: WhatsAppAdapter) -> None:
    app = create_app(platform=platform, adapters={"whatsapp": whatsapp})
    with TestClient(app) as client:
        ok = client.get(wire.PATH, params=dict(_handshake(wire.VERIFY_TOKEN).query))
        bad = client.get(wire.PATH, params=dict(_handshake("nope").query))
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert bad.status_code == 401
    assert "1158201444" not in bad.text


def test_the_fixture_message_is_read(whatsapp: WhatsAppAdapter) -> None:
    request = wire.request(wire.notification(timestamp=T))
    whatsapp.verify(request, now=NOW)
    [message] = whatsapp.parse(request).messages
    assert message.conversation_id == f"{wire.PHONE_ID}:16505551234"
    assert message.message_id.startswith("wamid.")
    assert message.text == "mkt eurusd 1m"


def test_a_stale_message_is_rejected(whatsapp: WhatsAppAdapter) -> None:
    with pytest.raises(Rejected, match="stale"):
        whatsapp.verify(wire.request(wire.notification(timestamp=T - 301)), now=NOW)


def test_a_tampered_body_is_rejected(whatsapp: WhatsAppAdapter) -> None:
    genuine = wire.request(wire.notification(timestamp=T))
    tampered = genuine.body.replace(b"1m", b"9m")
    with pytest.raises(Rejected, match="signature"):
        whatsapp.verify(WebhookRequest("POST", wire.PATH, genuine.headers, {}, tampered), now=NOW)


def test_status_updates_are_not_messages(whatsapp: WhatsAppAdapter) -> None:
    request = wire.request(wire.notification("status_update", timestamp=T))
    whatsapp.verify(request, now=NOW)
    assert whatsapp.parse(request).messages == []


def test_send_is_a_cloud_api_text_message(
    whatsapp: WhatsAppAdapter, server: PlatformServer
) -> None:
    server.answer_next(Answer(body=load("whatsapp", "messages_ok")))
    whatsapp.send(f"{wire.PHONE_ID}:16505551234", [OutboundMessage("FILLED ORD-1")])
    [call] = server.calls
    assert call.path == f"/{wire.PHONE_ID}/messages"
    assert call.headers["authorization"] == f"Bearer {wire.ACCESS_TOKEN}"
    assert call.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "16505551234",
        "type": "text",
        "text": {"preview_url": False, "body": "FILLED ORD-1"},
    }


def test_throttling_is_a_rate_limit(whatsapp: WhatsAppAdapter, server: PlatformServer) -> None:
    server.answer_next(Answer(400, load("whatsapp", "messages_throttled")))
    with pytest.raises(DeliveryFailed) as failed:
        whatsapp.send(f"{wire.PHONE_ID}:1", [OutboundMessage("hi")])
    assert not failed.value.permanent
    assert failed.value.retry_after == 60.0


def test_a_recipient_error_is_permanent(whatsapp: WhatsAppAdapter, server: PlatformServer) -> None:
    server.answer_next(Answer(400, load("whatsapp", "messages_invalid_recipient")))
    with pytest.raises(DeliveryFailed) as failed:
        whatsapp.send(f"{wire.PHONE_ID}:1", [OutboundMessage("hi")])
    assert failed.value.permanent


def test_check_reads_the_business_number(whatsapp: WhatsAppAdapter, server: PlatformServer) -> None:
    server.answer_next(Answer(body={"display_phone_number": "15550783881", "id": wire.PHONE_ID}))
    assert whatsapp.check() == "phone number 15550783881"
    assert server.calls[0].method == "GET"
    assert server.calls[0].path == f"/{wire.PHONE_ID}"
