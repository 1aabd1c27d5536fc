"""WeChat specifics: the URL check with echostr, signatures, timestamp and nonce replay, the AES
encrypted mode (msg_signature, app id, padding), and the customer service API with its token."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from dealchat.channels.config import WeChatSettings
from dealchat.channels.interfaces import DeliveryFailed, OutboundMessage, Rejected, WebhookRequest
from dealchat.channels.wechat import crypto
from dealchat.channels.wechat.adapter import WeChatAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.wechat import wire
from tests.channels.wire_common import load

NOW = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)
T = int(NOW.timestamp())
OPENID = "oLVPpjqs2BhvzwPj5A-vTYAX3GLc"


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with platform_server() as running:
        running.defaults["/cgi-bin/token"] = lambda call: Answer(body=load("wechat", "token"))
        yield running


def _adapter(server: PlatformServer, client: httpx.Client, *, aes: bool) -> WeChatAdapter:
    settings = WeChatSettings(
        enabled=True,
        api_url=server.url,
        app_id=wire.APP_ID,
        token=wire.TOKEN,  # type: ignore[arg-type]
        app_secret=wire.APP_SECRET,  # type: ignore[arg-type]
        encoding_aes_key=wire.AES_KEY if aes else None,  # type: ignore[arg-type]
    )
    return WeChatAdapter(settings, client=client)


@pytest.fixture
def plain(server: PlatformServer) -> Iterator[WeChatAdapter]:
    with httpx.Client() as client:
        yield _adapter(server, client, aes=False)


@pytest.fixture
def aes(server: PlatformServer) -> Iterator[WeChatAdapter]:
    with httpx.Client() as client:
        yield _adapter(server, client, aes=True)


def test_the_url_check_echoes_echostr(plain: WeChatAdapter) -> None:
    signed = wire.request("", timestamp=T)
    request = WebhookRequest("GET", wire.PATH, {}, {**signed.query, "echostr": "589327165"}, b"")
    plain.verify(request, now=NOW)
    answer = plain.parse(request).answer
    assert answer is not None
    assert answer.body == b"589327165"


def test_a_plain_text_message(plain: WeChatAdapter) -> None:
    request = wire.request(wire.xml(), timestamp=T)
    plain.verify(request, now=NOW)
    parsed = plain.parse(request)
    [message] = parsed.messages
    assert (message.conversation_id, message.message_id) == (OPENID, "24312781934713211")
    assert message.text == "mkt eurusd 1m"
    assert parsed.answer is not None
    assert parsed.answer.body == b"success"


def test_a_bad_signature_is_rejected(plain: WeChatAdapter) -> None:
    with pytest.raises(Rejected, match="signature"):
        plain.verify(wire.request(wire.xml(), timestamp=T, token="guess"), now=NOW)


def test_a_stale_timestamp_is_rejected(plain: WeChatAdapter) -> None:
    with pytest.raises(Rejected, match="stale"):
        plain.verify(wire.request(wire.xml(), timestamp=T - 301), now=NOW)


def test_a_reused_nonce_is_a_replay(plain: WeChatAdapter) -> None:
    plain.verify(wire.request(wire.xml(), timestamp=T, nonce="77"), now=NOW)
    with pytest.raises(Rejected, match="replayed"):
        plain.verify(wire.request(wire.xml(), timestamp=T, nonce="77"), now=NOW)


def test_events_are_answered_but_not_read(plain: WeChatAdapter) -> None:
    parsed = plain.parse(wire.request(wire.xml("subscribe_event"), timestamp=T))
    assert parsed.messages == []
    assert parsed.answer is not None


def test_the_encrypted_mode_decrypts(aes: WeChatAdapter) -> None:
    request = wire.request(wire.xml(text="buy 1m eurusd"), timestamp=T, encrypted=True)
    aes.verify(request, now=NOW)
    [message] = aes.parse(request).messages
    assert message.text == "buy 1m eurusd"
    assert b"buy 1m" not in request.body


def test_the_encrypted_mode_refuses_plain_messages(aes: WeChatAdapter) -> None:
    with pytest.raises(Rejected, match="encrypted mode"):
        aes.verify(wire.request(wire.xml(), timestamp=T), now=NOW)


def test_a_wrong_msg_signature_is_rejected(aes: WeChatAdapter) -> None:
    request = wire.request(wire.xml(), timestamp=T, encrypted=True)
    query = {**request.query, "msg_signature": "0" * 40}
    with pytest.raises(Rejected, match="msg_signature"):
        aes.verify(WebhookRequest("POST", wire.PATH, {}, query, request.body), now=NOW)


def test_a_message_for_another_app_does_not_decrypt() -> None:
    key = crypto.aes_key(wire.AES_KEY)
    sealed = crypto.encrypt(b"<xml/>", key, "wxOTHERAPP0000000")
    with pytest.raises(ValueError, match="another app"):
        crypto.decrypt(sealed, key, wire.APP_ID)
    assert (
        crypto.decrypt(crypto.encrypt(b"<xml/>", key, wire.APP_ID), key, wire.APP_ID) == b"<xml/>"
    )


def test_xml_entities_are_refused(plain: WeChatAdapter) -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Content>&a;</Content></xml>'
    with pytest.raises(Rejected, match="refused XML"):
        plain.parse(wire.request(bomb, timestamp=T))


def test_custom_send_with_a_cached_token(plain: WeChatAdapter, server: PlatformServer) -> None:
    plain.send(OPENID, [OutboundMessage("FILLED ORD-1")])
    plain.send(OPENID, [OutboundMessage("status")])
    paths = [call.path for call in server.calls]
    assert paths == [
        "/cgi-bin/token",
        "/cgi-bin/message/custom/send",
        "/cgi-bin/message/custom/send",
    ]
    token_call, send = server.calls[0], server.calls[1]
    assert token_call.query == {
        "grant_type": "client_credential",
        "appid": wire.APP_ID,
        "secret": wire.APP_SECRET,
    }
    assert send.query["access_token"] == load("wechat", "token")["access_token"]
    assert send.json() == {"touser": OPENID, "msgtype": "text", "text": {"content": "FILLED ORD-1"}}


def test_an_expired_token_is_renewed_on_the_retry(
    plain: WeChatAdapter, server: PlatformServer
) -> None:
    plain.send(OPENID, [OutboundMessage("one")])
    server.answer_next(Answer(body=load("wechat", "custom_send_token_expired")))
    with pytest.raises(DeliveryFailed) as failed:
        plain.send(OPENID, [OutboundMessage("two")])
    assert not failed.value.permanent
    plain.send(OPENID, [OutboundMessage("two")])
    assert [call.path for call in server.calls].count("/cgi-bin/token") == 2


def test_outside_the_48_hour_window_is_permanent(
    plain: WeChatAdapter, server: PlatformServer
) -> None:
    plain.send(OPENID, [OutboundMessage("warm the token")])
    server.answer_next(Answer(body=load("wechat", "custom_send_out_of_window")))
    with pytest.raises(DeliveryFailed) as failed:
        plain.send(OPENID, [OutboundMessage("late")])
    assert failed.value.permanent


def test_check_gets_a_token_and_names_the_mode(aes: WeChatAdapter, server: PlatformServer) -> None:
    assert aes.check() == f"access token for {wire.APP_ID}, encrypted mode"
    assert [call.path for call in server.calls] == ["/cgi-bin/token"]
