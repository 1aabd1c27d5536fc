"""How long a reply committed by a node that does not lead waits before it reaches the platform.

On PostgreSQL (its own database at 127.0.0.1:5432, created and dropped), in one process playing
two nodes: the leader's outbox dispatcher sweeping as `dealchat serve` runs it (every second when
nobody wakes it; the follower's commits cannot wake it), and a follower whose channel sink
commits client messages and their replies, `--replies` of them open loop at `--rate` a second,
each in a conversation of its own. Measured per reply: from its transaction's commit (the
outbox's after-commit announcement) to the fake platform's `send`.

Baseline, same run, alternating rounds: the leader's sweep alone (no bus). Against it: the
follower announcing each delivery on JetStream (127.0.0.1:4222, streams of the bench's own) and
sending it with its own delivery worker, the leader's sweep still running. Writes
bench/results/outbound.json with the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, cast

import nats

from _serving import load_per_cpu, pg_database, summary
from dealchat.api.deps import Platform
from dealchat.app import build_platform
from dealchat.channels import outbox
from dealchat.channels.bus_deliveries import Announcer, DeliveryWorker
from dealchat.channels.interfaces import ChannelAdapter, InboundMessage, OutboundMessage
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.channels.sink import LocalSink
from dealchat.settings import BusSettings, Settings

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NATS_URL = os.environ.get("DEALCHAT_BENCH_NATS_URL", "nats://127.0.0.1:4222")


class FakePlatform:
    """The fake chat platform: when each message (by its outbox key) reached it."""

    name = "fake"

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        for message in messages:
            self.at.setdefault(str(message.key), time.perf_counter())


def one_round(
    built: Platform, bus: BusSettings | None, replies: int, rate: float, tag: str
) -> dict[str, Any]:
    """`replies` committed by the follower; the leader sweeping; with `bus`, notices too."""
    fake = FakePlatform()
    adapters = {"fake": cast(ChannelAdapter, fake)}  # sends only: nothing comes in here
    leader = Dispatcher(built.sessions, adapters, built.desk)
    stop = threading.Event()
    sweeping = threading.Thread(target=leader.run_forever, args=(stop,), daemon=True)
    sweeping.start()
    committed: dict[str, float] = {}
    announcer = Announcer(bus) if bus is not None else None
    worker = None
    if bus is not None:
        follower = Dispatcher(built.sessions, adapters, built.desk)
        worker = DeliveryWorker(bus, follower).start()

    def note(item_id: str, channel: str) -> None:
        committed[item_id] = time.perf_counter()
        if announcer is not None:
            announcer(item_id, channel)

    outbox.announce_with(built.sessions, note)
    sink = LocalSink(built.sessions, built.desk)  # the follower's: nobody wakes the leader
    started = time.perf_counter()
    try:
        for number in range(replies):
            delay = started + number / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sink.accept([InboundMessage("fake", f"{tag}-c{number}", "user-1", f"{tag}-{number}",
                                        "mkt eurusd 1m")])  # fmt: skip
        deadline = time.perf_counter() + 30
        while len(fake.at) < len(committed) and time.perf_counter() < deadline:
            time.sleep(0.05)
    finally:
        outbox.announce_with(built.sessions, None)
        stop.set()
        leader.wake()
        sweeping.join(10)
        if worker is not None:
            worker.stop()
        if announcer is not None:
            announcer.close()
    waits = [fake.at[key] - at for key, at in committed.items() if key in fake.at]
    return {
        "mode": "bus" if bus is not None else "sweep only",
        "replies": len(committed),
        "arrived": len(waits),
        "by_notice": worker.attempts if worker is not None else 0,
        **summary(waits),
        "load_per_cpu": load_per_cpu(),
    }


async def _drop_streams(settings: BusSettings) -> None:
    client = await nats.connect(settings.url)
    js = client.jetstream()
    names = (settings.stream, settings.outbound_stream)
    await asyncio.gather(*(js.delete_stream(name) for name in names), return_exceptions=True)
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    tag = secrets.token_hex(4)
    bus = BusSettings(
        url=NATS_URL,
        stream=f"BENCH_IN_{tag}",
        subject=f"bench{tag}.inbound",
        outbound_stream=f"BENCH_OUT_{tag}",
        outbound_subject=f"bench{tag}.outbound",
    )
    rounds = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        pg_database(f"dealchat_bench_outbound_{os.getpid()}") as url,
    ):
        built = build_platform(Settings(data_dir=Path(tmp), database_url=url))
        try:
            for number in range(args.rounds):
                for mode in (None, bus):  # alternating: the machine is shared
                    result = one_round(
                        built, mode, args.replies, args.rate, f"r{number}{mode is None}"
                    )
                    print(json.dumps(result), flush=True)
                    rounds.append(result)
        finally:
            built.engine.dispose()
            asyncio.run(_drop_streams(bus))
    out = Path(__file__).parent / "results" / "outbound.json"
    out.write_text(json.dumps({"machine": host.platform(), "cpus": os.cpu_count(),
                               "rounds": rounds}, indent=2) + "\n")  # fmt: skip
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
