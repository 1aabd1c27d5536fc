"""Telegram specifics: the secret-token header, the date window, which updates are read, and
sendMessage's answers."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

import httpx
import pytest

from dealchat import logs
from dealchat.channels.config import TelegramSettings
from dealchat.channels.interfaces import DeliveryFailed, OutboundMessage, Rejected
from dealchat.channels.telegram.adapter import TelegramAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.telegram import wire
from tests.channels.wire_common import load

NOW = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)
T = int(NOW.timestamp())


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with platform_server() as running:
        yield running


@pytest.fixture
def telegram(server: PlatformServer) -> Iterator[TelegramAdapter]:
    settings = TelegramSettings(
        enabled=True,
        api_url=server.url,
        bot_token=wire.BOT_TOKEN,  # type: ignore[arg-type]
        secret_token=wire.SECRET_TOKEN,  # type: ignore[arg-type]
    )
    with httpx.Client() as client:
        yield TelegramAdapter(settings, client=client)


def test_the_fixture_update_is_read(telegram: TelegramAdapter) -> None:
    request = wire.request(wire.update(date=T))
    telegram.verify(request, now=NOW)
    [message] = telegram.parse(request).messages
    assert (message.conversation_id, message.sender_id, message.message_id) == (
        "112233445",
        "112233445",
        "4021",
    )
    assert message.text == "mkt eurusd 1m"


@pytest.mark.parametrize("secret", ["", "wrong", wire.SECRET_TOKEN[:-1]])
def test_a_wrong_or_missing_secret_token_is_rejected(
    telegram: TelegramAdapter, secret: str
) -> None:
    with pytest.raises(Rejected, match="secret token"):
        telegram.verify(wire.request(wire.update(date=T), secret=secret), now=NOW)


def test_an_update_older_than_the_window_is_stale(telegram: TelegramAdapter) -> None:
    old = wire.request(wire.update(date=T - 3601))
    with pytest.raises(Rejected, match="stale"):
        telegram.verify(old, now=NOW)
    telegram.verify(wire.request(wire.update(date=T - 3599)), now=NOW)


def test_edits_are_not_new_orders(telegram: TelegramAdapter) -> None:
    request = wire.request(wire.update("edited_message", date=T))
    telegram.verify(request, now=NOW)
    assert telegram.parse(request).messages == []


def test_send_message_goes_to_the_bot_token_path(
    telegram: TelegramAdapter, server: PlatformServer
) -> None:
    server.answer_next(Answer(body=load("telegram", "sendMessage_ok")))
    telegram.send("112233445", [OutboundMessage("EUR/USD 1,000,000 EUR SPOT: 1.08")])
    [call] = server.calls
    assert call.path == f"/bot{wire.BOT_TOKEN}/sendMessage"
    assert call.json()["chat_id"] == "112233445"
    assert call.json()["link_preview_options"] == {"is_disabled": True}


def test_429_carries_retry_after_from_the_body(
    telegram: TelegramAdapter, server: PlatformServer
) -> None:
    server.answer_next(Answer(429, load("telegram", "sendMessage_429")))
    with pytest.raises(DeliveryFailed) as failed:
        telegram.send("112233445", [OutboundMessage("hi")])
    assert failed.value.retry_after == 11.0
    assert not failed.value.permanent


def test_a_blocked_bot_is_permanent(telegram: TelegramAdapter, server: PlatformServer) -> None:
    server.answer_next(Answer(403, load("telegram", "sendMessage_blocked")))
    with pytest.raises(DeliveryFailed) as failed:
        telegram.send("112233445", [OutboundMessage("hi")])
    assert failed.value.permanent


def test_the_bot_token_in_the_url_never_reaches_a_log(
    telegram: TelegramAdapter, server: PlatformServer, caplog: pytest.LogCaptureFixture
) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("httpx").level)
    try:
        logs.configure("DEBUG")  # what `dealchat serve` does, at its most talkative
        root.addHandler(caplog.handler)
        server.answer_next(Answer(body=load("telegram", "sendMessage_ok")))
        telegram.send("112233445", [OutboundMessage("hi")])
    finally:
        root.handlers, root.level = saved[0], saved[1]
        logging.getLogger("httpx").setLevel(saved[2])
    assert server.calls
    assert not [r for r in caplog.records if wire.BOT_TOKEN in r.getMessage()]
