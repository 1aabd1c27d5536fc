"""The channels of a running platform: the adapters settings turn on, the outbox dispatcher that
delivers every bot message through them, and the Matrix bot when its settings are present.

`dealchat serve` runs inside `running_channels`; tests use it to run exactly what serve runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import ChannelAdapter
from dealchat.channels.matrix.runner import MatrixRunner
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.channels.registry import build_adapters, rate_limits
from dealchat.channels.sink import LocalSink


class RunningChannels:
    """The adapters and the dispatcher; `start` runs the dispatcher thread and the Matrix bot
    (in one process of several: the leader, `db.leader`)."""

    def __init__(self, built: Platform) -> None:
        settings = built.settings
        self._built = built
        self.adapters: dict[str, ChannelAdapter] = build_adapters(
            settings.channels, public_url=settings.public_url
        )
        self.dispatcher = Dispatcher(
            built.sessions,
            self.adapters,
            built.desk,
            limiter=rate_limits(settings.channels),
            clock=built.desk.clock,
        )
        self.matrix: MatrixRunner | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.dispatcher.run_forever,
            args=(self._stop,),
            name="outbox-dispatcher",
            daemon=True,
        )
        self._thread.start()
        if self._built.settings.matrix.enabled:
            sink = LocalSink(self._built.sessions, self._built.desk, on_committed=self.wake)
            self.matrix = MatrixRunner(self._built, sink).start()
            self.adapters["matrix"] = self.matrix.adapter()

    def wake(self) -> None:
        self.dispatcher.wake()

    def stop(self) -> None:
        if self.matrix is not None:
            self.matrix.stop()
        self._stop.set()
        self.dispatcher.wake()
        if self._thread is not None:
            self._thread.join(timeout=30)


@contextmanager
def running_channels(built: Platform, *, start: bool = True) -> Iterator[RunningChannels]:
    """The dispatcher thread and, if configured, the Matrix bot, started now unless `start` is
    False (then whoever leads calls `start`); both stopped on exit."""
    channels = RunningChannels(built)
    try:
        if start:
            channels.start()
        yield channels
    finally:
        channels.stop()
