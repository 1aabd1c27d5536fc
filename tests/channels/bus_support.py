"""What the bus tests share: the machine's NATS (skipped when away, failed in CI), streams of
each test's own, a private restartable `nats-server`, and waiting for a condition."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from dealchat.settings import BusSettings

NATS_URL = os.environ.get("DEALCHAT_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI") == "true"


def reachable(url: str) -> bool:
    host, _, port = url.removeprefix("nats://").partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=2).close()
    except OSError:
        return False
    return True


def wait(until: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if until():
            return True
        time.sleep(0.1)
    return until()


@pytest.fixture
def bus_settings() -> Iterator[BusSettings]:
    """Settings for the machine's NATS with an inbound and an outbound stream of the test's own."""
    if not reachable(NATS_URL):
        message = f"NATS with JetStream is not reachable at {NATS_URL}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    tag = secrets.token_hex(4)
    settings = BusSettings(url=NATS_URL, stream=f"T{tag}", subject=f"t{tag}.inbound",
                           outbound_stream=f"O{tag}", outbound_subject=f"t{tag}.outbound",
                           ack_wait_seconds=2, batch=8)  # fmt: skip
    yield settings
    asyncio.run(_delete_streams(settings))


async def _delete_streams(settings: BusSettings) -> None:
    client = await nats.connect(settings.url)
    for stream in (settings.stream, settings.outbound_stream):
        with contextlib.suppress(Exception):
            await client.jetstream().delete_stream(stream)
    await client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateNats:
    """A nats-server of the test's own (JetStream on, its store in a temp dir), restartable."""

    def __init__(self, store: Path) -> None:
        self.port = _free_port()
        self.store = store
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.process = subprocess.Popen(
            [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        assert wait(lambda: reachable(self.url), 10)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[PrivateNats]:
    if shutil.which("nats-server") is None and not Path("/usr/sbin/nats-server").exists():
        if IN_CI:
            pytest.fail("nats-server is not installed (Debian's nats-server)")
        pytest.skip("nats-server is not installed")
    server = PrivateNats(tmp_path / "jetstream")
    server.start()
    yield server
    server.kill()
