"""Sending into rooms: retries, the real rate limits of the homeserver, refusals, no server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.interfaces import DeliveryFailed, OutboundMessage
from dealchat.channels.matrix.adapter import MatrixAdapter
from dealchat.channels.matrix.sender import Sender, SendReport
from dealchat.channels.matrix.session import new_client
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.settings import MatrixSettings
from tests.channels.matrix.client import Person
from tests.channels.matrix.conftest import Cast, bot_settings
from tests.channels.matrix.synapse import Synapse, free_port


class SenderTransport:
    """A `Transport` for the adapter: a fresh nio client per call, logged in with a token."""

    def __init__(self, settings: MatrixSettings, token: str, **options: float) -> None:
        self.settings, self.token, self.options = settings, token, options
        self.reports: list[SendReport] = []

    def send(self, room_id: str, messages: Sequence[OutboundMessage]) -> SendReport:
        report = asyncio.run(self._send(room_id, messages))
        self.reports.append(report)
        return report

    async def _send(self, room_id: str, messages: Sequence[OutboundMessage]) -> SendReport:
        client = new_client(self.settings)
        assert self.settings.user_id is not None
        client.restore_login(self.settings.user_id, "", self.token)
        try:
            sender = Sender(client, **self.options)  # type: ignore[arg-type]
            return await sender.send(room_id, messages)
        finally:
            await client.close()


def _shared_room(cast: Cast, synapse: Synapse) -> str:
    room_id = cast.client.create_room(invite=[cast.bot.user_id])
    as_bot = Person(synapse.url, cast.bot)
    try:
        as_bot.http.post(f"/join/{quote(room_id)}").raise_for_status()
    finally:
        as_bot.http.close()
    return room_id


def test_rate_limited_messages_wait_as_told_and_arrive_in_order(
    cast: Cast, synapse: Synapse, tmp_path: Path
) -> None:
    room_id = _shared_room(cast, synapse)
    synapse.override_ratelimit(cast.bot.user_id, per_second=1, burst_count=1)
    transport = SenderTransport(bot_settings(synapse, cast, tmp_path), cast.bot.access_token)
    texts = [f"fill {n}" for n in range(4)]
    report = transport.send(room_id, [OutboundMessage(text) for text in texts])
    assert not report.failed
    assert report.rate_limited >= 1  # the homeserver said M_LIMIT_EXCEEDED and we waited
    bodies = [e["content"]["body"] for e in cast.client.events(room_id)]
    assert bodies == texts
    assert [e["event_id"] for e in cast.client.events(room_id)] == report.event_ids


def test_a_long_rate_limit_wait_goes_back_to_the_outbox_as_retry_after(
    cast: Cast, synapse: Synapse, tmp_path: Path
) -> None:
    room_id = _shared_room(cast, synapse)
    synapse.override_ratelimit(cast.bot.user_id, per_second=1, burst_count=1)
    settings = bot_settings(synapse, cast, tmp_path)
    patient = MatrixAdapter(SenderTransport(settings, cast.bot.access_token))
    impatient = MatrixAdapter(
        SenderTransport(settings, cast.bot.access_token, max_retry_after=0.001)
    )
    patient.send(room_id, [OutboundMessage("first")])  # uses up the burst of one
    with pytest.raises(DeliveryFailed) as failure:
        impatient.send(room_id, [OutboundMessage("second")])
    assert not failure.value.permanent
    assert failure.value.retry_after is not None
    assert failure.value.retry_after > 0
    assert "M_LIMIT_EXCEEDED" in failure.value.reason
    assert [e["content"]["body"] for e in cast.client.events(room_id)] == ["first"]


def test_a_room_the_bot_is_not_in_is_a_permanent_failure(
    cast: Cast, synapse: Synapse, tmp_path: Path
) -> None:
    room_id = cast.client.create_room(invite=[])
    transport = SenderTransport(bot_settings(synapse, cast, tmp_path), cast.bot.access_token)
    with pytest.raises(DeliveryFailed) as failure:
        MatrixAdapter(transport).send(room_id, [OutboundMessage("hello")])
    assert failure.value.permanent
    assert transport.reports[0].retried == 0
    assert cast.client.events(room_id) == []


def test_an_unreachable_homeserver_is_retried_with_backoff_then_reported(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("syt_not_used", encoding="utf-8")
    settings = MatrixSettings(
        homeserver_url=f"http://127.0.0.1:{free_port()}",
        user_id="@bot:localhost",
        access_token_file=secret,
    )
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def attempt() -> SendReport:
        client = new_client(settings)
        client.restore_login("@bot:localhost", "DEV", "syt_not_used")
        try:
            sender = Sender(client, attempts=4, first_backoff=0.5, sleep=record)
            return await sender.send("!room:localhost", [OutboundMessage("hi")])
        finally:
            await client.close()

    report = asyncio.run(attempt())
    assert report.failed
    assert not report.permanent
    assert report.event_ids == []
    assert report.retried == 3
    assert waits == [0.5, 1.0, 2.0]
    assert report.error is not None
    assert "Connect" in report.error


def test_nothing_comes_in_through_a_matrix_webhook(platform: Platform, tmp_path: Path) -> None:
    class Unused:
        def send(self, room_id: str, messages: Sequence[OutboundMessage]) -> SendReport:
            raise AssertionError("not for sending")

    app = create_app(platform=platform, adapters={"matrix": MatrixAdapter(Unused())})
    with unit_of_work(platform.sessions) as session:
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    with TestClient(app, raise_server_exceptions=False) as http:
        body = b'{"type":"m.room.message","content":{"body":"buy 1m eurusd"}}'
        response = http.post("/channels/matrix/webhook", content=body)
    assert response.status_code == 401
    with unit_of_work(platform.sessions) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_a_retried_outbox_message_is_posted_once(
    cast: Cast, synapse: Synapse, tmp_path: Path
) -> None:
    """The dispatcher retries when an answer is lost: the same key is the same Matrix
    transaction, so the homeserver returns the first event instead of posting a second."""
    room_id = _shared_room(cast, synapse)
    transport = SenderTransport(bot_settings(synapse, cast, tmp_path), cast.bot.access_token)
    message = OutboundMessage("FILLED ORD-1", key="outbox-item-1")
    first = transport.send(room_id, [message])
    again = transport.send(room_id, [message])
    other = transport.send(room_id, [OutboundMessage("FILLED ORD-1", key="outbox-item-2")])
    assert first.event_ids == again.event_ids
    assert other.event_ids != first.event_ids
    bodies = [e["content"]["body"] for e in cast.client.events(room_id)]
    assert bodies == ["FILLED ORD-1", "FILLED ORD-1"]
