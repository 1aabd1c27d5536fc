"""Slack specifics: the v0 signature's 5-minute window, replays, url_verification, which events
are a person's message, and chat.postMessage errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dealchat.channels.config import SlackSettings
from dealchat.channels.interfaces import DeliveryFailed, OutboundMessage, Rejected
from dealchat.channels.slack.adapter import SlackAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.slack import wire as signing

NOW = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with platform_server() as running:
        yield running


@pytest.fixture
def slack(server: PlatformServer) -> Iterator[SlackAdapter]:
    settings = SlackSettings(
        enabled=True,
        api_url=f"{server.url}/api",
        signing_secret=signing.SECRET,  # type: ignore[arg-type]
        bot_token=signing.TOKEN,  # type: ignore[arg-type]
    )
    with httpx.Client() as client:
        yield SlackAdapter(settings, client=client)


def test_url_verification_echoes_the_challenge(slack: SlackAdapter) -> None:
    request = signing.request(signing.fixture("url_verification"), int(NOW.timestamp()))
    slack.verify(request, now=NOW)
    parsed = slack.parse(request)
    assert parsed.messages == []
    assert parsed.answer is not None
    assert parsed.answer.body == b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_request_outside_five_minutes_is_stale(slack: SlackAdapter, age: int) -> None:
    request = signing.request(signing.fixture("message_im"), int(NOW.timestamp()) - age)
    with pytest.raises(Rejected, match="stale"):
        slack.verify(request, now=NOW)


def test_within_five_minutes_is_fresh(slack: SlackAdapter) -> None:
    request = signing.request(signing.fixture("message_im"), int(NOW.timestamp()) - 299)
    slack.verify(request, now=NOW)


def test_the_same_signed_request_twice_is_a_replay(slack: SlackAdapter) -> None:
    request = signing.request(signing.fixture("message_im"), int(NOW.timestamp()))
    slack.verify(request, now=NOW)
    with pytest.raises(Rejected, match="replayed"):
        slack.verify(request, now=NOW + dt.timedelta(seconds=1))


def test_a_changed_body_breaks_the_signature(slack: SlackAdapter) -> None:
    genuine = signing.request(signing.fixture("message_im"), int(NOW.timestamp()))
    tampered = signing.fixture("message_im", text="buy 100m eurusd")
    request = signing.request(tampered, int(NOW.timestamp()))
    request = type(request)(request.method, request.path, genuine.headers, {}, tampered)
    with pytest.raises(Rejected, match="signature"):
        slack.verify(request, now=NOW)


def test_missing_headers_are_rejected(slack: SlackAdapter) -> None:
    request = signing.request(signing.fixture("message_im"), int(NOW.timestamp()))
    bare = type(request)("POST", request.path, {}, {}, request.body)
    with pytest.raises(Rejected):
        slack.verify(bare, now=NOW)


def test_an_app_mention_loses_the_bots_name(slack: SlackAdapter) -> None:
    request = signing.request(signing.fixture("app_mention"), int(NOW.timestamp()))
    [message] = slack.parse(request).messages
    assert message.text == "buy 1m eurusd 1W 360t"
    assert message.conversation_id == "T061EG9R6:C0LAN2Q65"
    assert message.sender_id == "T061EG9R6:U061F7AUR"


def test_bot_messages_are_never_answered(slack: SlackAdapter) -> None:
    request = signing.request(signing.fixture("bot_message"), int(NOW.timestamp()))
    assert slack.parse(request).messages == []


def test_post_message_uses_the_bot_token_and_the_channel(
    slack: SlackAdapter, server: PlatformServer
) -> None:
    server.answer_next(Answer(body=signing.load("chat_postMessage_ok")))
    slack.send("T061EG9R6:D024BE91L", [OutboundMessage("FILLED ORD-1")])
    [call] = server.calls
    assert call.path == "/api/chat.postMessage"
    assert call.headers["authorization"] == f"Bearer {signing.TOKEN}"
    assert call.headers["content-type"].startswith("application/json")
    assert call.json()["channel"] == "D024BE91L"
    assert call.json()["text"] == "FILLED ORD-1"


def test_an_unknown_channel_is_permanent(slack: SlackAdapter, server: PlatformServer) -> None:
    server.answer_next(Answer(body=signing.load("chat_postMessage_channel_not_found")))
    with pytest.raises(DeliveryFailed) as failed:
        slack.send("T1:C1", [OutboundMessage("hi")])
    assert failed.value.permanent
    assert "channel_not_found" in failed.value.reason


def test_ratelimited_in_the_body_is_retryable(slack: SlackAdapter, server: PlatformServer) -> None:
    server.answer_next(
        Answer(body=signing.load("chat_postMessage_ratelimited"), headers={"Retry-After": "30"})
    )
    with pytest.raises(DeliveryFailed) as failed:
        slack.send("T1:C1", [OutboundMessage("hi")])
    assert not failed.value.permanent
    assert failed.value.retry_after == 30.0


def test_a_server_error_is_retryable(slack: SlackAdapter, server: PlatformServer) -> None:
    server.answer_next(Answer(status=503, body={}))
    with pytest.raises(DeliveryFailed) as failed:
        slack.send("T1:C1", [OutboundMessage("hi")])
    assert not failed.value.permanent
    assert failed.value.status == 503


def test_enabled_without_secrets_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="signing_secret"):
        SlackSettings(enabled=True)


def test_secrets_come_from_files_and_never_show(tmp_path: Path) -> None:
    secret_file = tmp_path / "slack-signing"
    secret_file.write_text(signing.SECRET + "\n")
    settings = SlackSettings(
        enabled=True,
        signing_secret_file=secret_file,
        bot_token=signing.TOKEN,  # type: ignore[arg-type]
    )
    assert settings.secret("signing_secret") == signing.SECRET
    assert signing.TOKEN not in repr(settings)
