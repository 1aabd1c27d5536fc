"""NATS JetStream as the way in (channels/bus.py), against real NATS servers.

The machine's NATS (127.0.0.1:4222, JetStream on) for the webhook and worker tests, each with
streams of its own; a private `nats-server` on a free port for the restart test. A webhook is
answered 2xx only once the stream holds the message; core workers (any number) take them, and
every message a platform got a 2xx for is recorded and answered exactly once, whatever dies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.bus import BusSink, BusUnavailableError, BusWorker
from dealchat.channels.interfaces import InboundMessage
from dealchat.channels.sink import LocalSink
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.settings import BusSettings
from tests.channels.bus_support import PrivateNats, bus_settings, private_nats, wait
from tests.channels.fakes import FakeAdapter

__all__ = ["bus_settings", "private_nats"]  # fixtures


def _stored(settings: BusSettings) -> int:
    async def count() -> int:
        client = await nats.connect(settings.url)
        try:
            info = await client.jetstream().stream_info(settings.stream)
            return int(info.state.messages)
        finally:
            await client.close()

    return asyncio.run(count())


def _webhook(adapter: FakeAdapter, text: str, message_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"conversation_id": f"conv-{message_id[-1]}", "sender_id": "user-1",
                       "message_id": message_id, "text": text}).encode()  # fmt: skip
    return body, {"x-fake-signature": adapter.sign(body), "content-type": "application/json"}


def _count(platform: Platform, *conditions: Any, model: Any = Message) -> int:
    with unit_of_work(platform.sessions) as session:
        query = select(func.count()).select_from(model)
        return int(session.scalar(query.where(*conditions)) or 0)


def _received(platform: Platform) -> int:
    return _count(platform, AuditEntry.event == "message:received", model=AuditEntry)


def _with_bus(platform: Platform, settings: BusSettings) -> Platform:
    return dataclasses.replace(
        platform, settings=platform.settings.model_copy(update={"bus": settings})
    )


def test_a_webhook_is_answered_once_the_stream_holds_it_and_a_worker_takes_it(
    platform: Platform, bus_settings: BusSettings
) -> None:
    adapter = FakeAdapter()
    app = create_app(platform=_with_bus(platform, bus_settings), adapters={"fake": adapter})
    with TestClient(app) as http:
        for number in range(12):
            body, headers = _webhook(adapter, "mkt eurusd 1m", f"m-{number}")
            assert (
                http.post("/channels/fake/webhook", content=body, headers=headers).status_code
                == 200
            )
        body, headers = _webhook(adapter, "mkt eurusd 1m", "m-3")  # the platform sends again
        assert http.post("/channels/fake/webhook", content=body, headers=headers).status_code == 200
    assert _stored(bus_settings) == 12  # its resend dropped by the stream's duplicate window
    assert _count(platform) == 0  # nothing processed before a worker takes it
    worker = BusWorker(bus_settings, LocalSink(platform.sessions, platform.desk)).start()
    try:
        assert wait(lambda: _count(platform, Message.direction == "in") == 12)
        assert wait(lambda: _stored(bus_settings) == 0)  # each acknowledged after its commit
    finally:
        worker.stop()
    assert _received(platform) == 12
    replies = _count(platform, Message.direction == "out")
    assert replies == 12  # one answer each


def test_a_webhook_is_5xx_when_the_stream_cannot_take_it(platform: Platform) -> None:
    dead = BusSettings(url="nats://127.0.0.1:1", publish_timeout_seconds=0.5)
    adapter = FakeAdapter()
    app = create_app(platform=_with_bus(platform, dead), adapters={"fake": adapter})
    body, headers = _webhook(adapter, "mkt eurusd 1m", "m-1")
    with TestClient(app, raise_server_exceptions=False) as http:
        answer = http.post("/channels/fake/webhook", content=body, headers=headers)
    assert answer.status_code >= 500  # the platform keeps it and sends it again
    assert _count(platform) == 0


_KILLED_WORKER = """
import sys, time
from dealchat.app import build_platform
from dealchat.channels.bus import BusWorker
from dealchat.channels.sink import LocalSink
from dealchat.settings import BusSettings, Settings

settings = Settings.model_validate_json(sys.argv[1])
platform = build_platform(settings)
worker = BusWorker(BusSettings.model_validate_json(sys.argv[2]),
                   LocalSink(platform.sessions, platform.desk)).start()
print("started", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_worker_killed_mid_run_loses_nothing_and_two_workers_share_the_load(
    platform: Platform, bus_settings: BusSettings
) -> None:
    sink = BusSink(bus_settings)
    total = 80
    sink.accept([InboundMessage("fake", f"conv-{n % 7}", "user-1", f"k-{n}", "mkt eurusd 1m")
                 for n in range(total)])  # fmt: skip
    settings_json = platform.settings.model_dump_json()
    killed = subprocess.Popen(  # a core node in a process of its own
        [sys.executable, "-c", textwrap.dedent(_KILLED_WORKER), settings_json,
         bus_settings.model_dump_json()],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert killed.stdout is not None
    assert killed.stdout.readline().strip() == "started"
    other = BusWorker(bus_settings, LocalSink(platform.sessions, platform.desk)).start()
    try:
        assert wait(lambda: _count(platform, Message.direction == "in") >= 15)
        os.kill(killed.pid, signal.SIGKILL)  # mid-batch: what it took unacknowledged comes back
        killed.wait(10)
        killed.stdout.close()
        assert wait(lambda: _count(platform, Message.direction == "in") == total, 60)
        assert wait(lambda: _stored(bus_settings) == 0, 30)
    finally:
        other.stop()
        sink.close()
    assert other.handled > 0
    assert other.handled < total + 8  # the killed one did its share (8: one batch redelivered)
    assert _received(platform) == total  # recorded exactly once
    assert _count(platform, Message.direction == "out") == total  # answered exactly once


def test_nats_restarted_mid_run_loses_nothing_acknowledged(
    platform: Platform, private_nats: PrivateNats
) -> None:
    settings = BusSettings(url=private_nats.url, ack_wait_seconds=2, batch=8,
                           publish_timeout_seconds=1)  # fmt: skip
    sink = BusSink(settings)
    acknowledged: list[str] = []
    stop = threading.Event()

    def platform_sending() -> None:  # a platform: sends each message until it gets a 2xx
        number = 0
        while not stop.is_set() and number < 60:
            message = InboundMessage("fake", f"conv-{number % 5}", "user-1", f"r-{number}", "help")
            try:
                sink.accept([message])
            except BusUnavailableError:
                time.sleep(0.2)
                continue  # no 2xx: the platform sends the same message again
            acknowledged.append(message.message_id)
            number += 1
            time.sleep(0.02)

    sender = threading.Thread(target=platform_sending)
    sender.start()
    worker = BusWorker(settings, LocalSink(platform.sessions, platform.desk)).start()
    try:
        assert wait(lambda: len(acknowledged) >= 20)
        private_nats.kill()
        time.sleep(0.5)
        private_nats.start()  # the same store: what it acknowledged is still there
        sender.join(90)
        assert len(acknowledged) == 60
        assert wait(lambda: _count(platform, Message.direction == "in") == 60, 60)
    finally:
        stop.set()
        sender.join(10)
        worker.stop()
        sink.close()
    assert _received(platform) == 60
    assert _count(platform, Message.direction == "out") == 60
