"""Outbound deliveries through NATS JetStream (channels/bus_deliveries.py), against real NATS.

The outbox row is the truth; after commit a notice (the outbox id only) goes to the outbound
stream, any node's delivery worker claims the row as the dispatcher does, sends it and records
the outcome before acknowledging. Each delivery is sent once however many workers, notices or
sweeps see it; a worker killed mid-send leaves it to the sweep once its lease ends (a second
attempt with the same idempotency key); with NATS away the sweep delivers everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.channels import outbox
from dealchat.channels.bus_deliveries import Announcer, DeliveryWorker, deliveries_by_bus
from dealchat.channels.interfaces import InboundMessage
from dealchat.channels.outbox import DELIVERED, OutboxItem
from dealchat.channels.outbox_dispatch import Dispatcher, RetryPolicy
from dealchat.channels.sink import LocalSink
from dealchat.conversations.desk import handle_inbound
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.settings import BusSettings
from tests.channels.bus_support import PrivateNats, bus_settings, private_nats, wait
from tests.channels.fakes import FakeAdapter

__all__ = ["bus_settings", "private_nats"]  # fixtures


def _dispatcher(platform: Platform, adapter: FakeAdapter, lease: float = 60) -> Dispatcher:
    return Dispatcher(platform.sessions, {"fake": adapter}, platform.desk,
                      policy=RetryPolicy(lease_seconds=lease))  # fmt: skip


def _message(prefix: str, number: int) -> InboundMessage:
    return InboundMessage("fake", f"{prefix}-c{number}", "user-1", f"{prefix}-{number}",
                          "mkt eurusd 1m")  # fmt: skip


def _say(platform: Platform, count: int, prefix: str) -> None:
    """`count` client messages, each in a conversation of its own, each answered once."""
    sink = LocalSink(platform.sessions, platform.desk)
    sink.accept([_message(prefix, number) for number in range(count)])


def _items(platform: Platform) -> list[OutboxItem]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(OutboxItem)))


def _all_delivered(platform: Platform, count: int) -> bool:
    items = _items(platform)
    return len(items) == count and all(item.state == DELIVERED for item in items)


def _events(platform: Platform, event: str) -> int:
    with unit_of_work(platform.sessions) as session:
        return len(session.scalars(select(AuditEntry.seq).where(AuditEntry.event == event)).all())


def _sent_keys(adapter: FakeAdapter) -> Counter[str]:
    return Counter(str(message.key) for _conversation, message in adapter.sent)


def _answer_then_fail(platform: Platform) -> None:
    with unit_of_work(platform.sessions) as session:
        handle_inbound(session, message=_message("rolled", 0), desk=platform.desk)
        assert session.scalars(select(OutboxItem)).all()  # queued, then rolled back
        raise RuntimeError("the request failed after answering")


def test_a_notice_is_announced_after_commit_never_on_rollback(platform: Platform) -> None:
    heard: list[tuple[str, str]] = []
    outbox.announce_with(platform.sessions, lambda item, channel: heard.append((item, channel)))
    try:
        with pytest.raises(RuntimeError):
            _answer_then_fail(platform)
        assert heard == []
        with unit_of_work(platform.sessions) as session:
            handle_inbound(session, message=_message("kept", 0), desk=platform.desk)
            assert heard == []  # not before commit
        assert heard == [(item.id, "fake") for item in _items(platform)]
    finally:
        outbox.announce_with(platform.sessions, None)
    _say(platform, 1, "after")
    assert len(heard) == 1  # off again


def test_without_the_bus_or_with_outbound_off_nothing_is_announced(platform: Platform) -> None:
    dispatcher = _dispatcher(platform, FakeAdapter())
    for settings in (BusSettings(), BusSettings(url="nats://127.0.0.1:1", outbound=False)):
        with deliveries_by_bus(settings, platform.sessions, dispatcher) as worker:
            assert worker is None
            _say(platform, 1, f"off-{settings.outbound}")
            with platform.sessions() as session:
                assert "dealchat_outbox_announce" not in session.info


def test_bus_settings_keep_the_two_streams_apart() -> None:
    with pytest.raises(ValidationError):
        BusSettings(outbound_stream="DEALCHAT_INBOUND")
    with pytest.raises(ValidationError):
        BusSettings(subject="dealchat", outbound_subject="dealchat.outbound")
    with pytest.raises(ValidationError):
        BusSettings(outbound_subject="dealchat.inbound")
    assert BusSettings(subject="dealchat.in", outbound_subject="dealchat.inbound").outbound


def _announcing(platform: Platform, settings: BusSettings) -> Announcer:
    announcer = Announcer(settings)
    outbox.announce_with(platform.sessions, announcer)
    return announcer


def test_each_delivery_is_sent_once_by_some_node_without_waiting_for_the_sweep(
    platform: Platform, bus_settings: BusSettings
) -> None:
    first, second = FakeAdapter(), FakeAdapter()  # two nodes, no leader sweeping
    other = DeliveryWorker(bus_settings, _dispatcher(platform, second)).start()
    total = 40
    try:  # this node as `dealchat serve` runs it: announcing what it commits, and a worker
        with deliveries_by_bus(bus_settings, platform.sessions,
                               _dispatcher(platform, first)) as this:  # fmt: skip
            assert this is not None
            for number in range(total):  # a client a time, as webhooks come
                _say(platform, 1, f"n{number}")
            assert wait(lambda: _all_delivered(platform, total))
            assert wait(lambda: this.handled + other.handled == total)
    finally:
        other.stop()
    sent = _sent_keys(first) + _sent_keys(second)
    assert sent == Counter({item.id: 1 for item in _items(platform)})  # each exactly once
    assert first.sent  # the nodes shared them
    assert second.sent
    assert _events(platform, "delivery:succeeded") == total
    # no sweep ran: each went out on its notice (bench/outbound.py times it against the sweep)


_KILLED_DELIVERER = """
import pathlib, sys, time
from dealchat.app import build_platform
from dealchat.channels.bus_deliveries import DeliveryWorker
from dealchat.channels.outbox_dispatch import Dispatcher, RetryPolicy
from dealchat.settings import BusSettings, Settings

class Stuck:  # a platform that never answers: the worker is killed mid-send
    name = "fake"
    def send(self, conversation_id, messages):
        pathlib.Path(sys.argv[3]).write_text(str(messages[0].key))
        time.sleep(600)

platform = build_platform(Settings.model_validate_json(sys.argv[1]))
dispatcher = Dispatcher(platform.sessions, {"fake": Stuck()}, platform.desk,
                        policy=RetryPolicy(lease_seconds=3))
DeliveryWorker(BusSettings.model_validate_json(sys.argv[2]), dispatcher).start()
print("started", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_delivery_worker_killed_mid_send_leaves_it_to_be_sent_again_with_its_key(
    platform: Platform, bus_settings: BusSettings, tmp_path: Path
) -> None:
    sending = tmp_path / "sending"
    killed = subprocess.Popen(  # a node of its own
        [sys.executable, "-c", textwrap.dedent(_KILLED_DELIVERER),
         platform.settings.model_dump_json(), bus_settings.model_dump_json(), str(sending)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert killed.stdout is not None
    assert killed.stdout.readline().strip() == "started"
    announcer = _announcing(platform, bus_settings)
    adapter = FakeAdapter()
    dispatcher = _dispatcher(platform, adapter, lease=3)
    stop = threading.Event()
    worker = DeliveryWorker(bus_settings, dispatcher)
    try:
        _say(platform, 1, "kill")
        assert wait(sending.exists)  # claimed (attempt 1, leased for 3 s) and being sent
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(10)
        killed.stdout.close()
        worker.start()  # the notice comes back here
        sweep = threading.Thread(target=dispatcher.run_forever, args=(stop,))  # the leader's
        sweep.start()
        assert wait(lambda: _all_delivered(platform, 1))
        assert wait(lambda: worker.handled == 1)  # the notice acknowledged, once
    finally:
        worker.stop()
        stop.set()
        if killed.poll() is None:  # an assertion failed before the kill
            killed.kill()
            killed.wait(10)
        outbox.announce_with(platform.sessions, None)
        announcer.close()
    (item,) = _items(platform)
    assert sending.read_text() == item.id  # the killed attempt carried the same key
    assert _sent_keys(adapter) == Counter({item.id: 1})
    assert item.attempts == 2  # at least once to the platform: the key lets it drop a repeat
    assert _events(platform, "delivery:succeeded") == 1
    assert _events(platform, "delivery:failed") == 0


def test_with_nats_away_the_sweep_delivers_and_notices_resume_after(
    platform: Platform, private_nats: PrivateNats
) -> None:
    settings = BusSettings(url=private_nats.url, ack_wait_seconds=2, publish_timeout_seconds=1)
    adapter = FakeAdapter()
    dispatcher = _dispatcher(platform, adapter)
    worker = DeliveryWorker(settings, dispatcher).start()
    announcer = _announcing(platform, settings)
    try:
        _say(platform, 3, "up")
        assert wait(lambda: _all_delivered(platform, 3))  # by notice: nobody swept
        private_nats.kill()
        started = time.monotonic()
        _say(platform, 5, "down")
        assert time.monotonic() - started < 3  # commits never wait for the bus
        time.sleep(1.5)
        assert len(adapter.sent) == 3  # no notice got through
        while dispatcher.run_once():  # the leader's sweep, the safety net
            pass
        assert _all_delivered(platform, 8)
        private_nats.start()  # the same store and port: the worker connects again
        _say(platform, 3, "back")
        assert wait(lambda: _all_delivered(platform, 11), 60)  # by notice again
    finally:
        worker.stop()
        outbox.announce_with(platform.sessions, None)
        announcer.close()
    assert _sent_keys(adapter) == Counter({item.id: 1 for item in _items(platform)})
    assert _events(platform, "delivery:succeeded") == 11
