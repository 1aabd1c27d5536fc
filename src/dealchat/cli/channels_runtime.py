"""The channels of a running platform: the adapters settings turn on, the outbox dispatcher that
delivers every bot message through them, and the Matrix bot when its settings are present.

`dealchat serve` runs inside `running_channels`; tests use it to run exactly what serve runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import ChannelAdapter
from dealchat.channels.matrix.runner import MatrixRunner
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.channels.registry import build_adapters, rate_limits
from dealchat.channels.sink import LocalSink


@dataclass(frozen=True)
class RunningChannels:
    adapters: dict[str, ChannelAdapter]
    dispatcher: Dispatcher
    matrix: MatrixRunner | None


@contextmanager
def running_channels(built: Platform) -> Iterator[RunningChannels]:
    """Start the dispatcher thread and, if configured, the Matrix bot; stop both on exit."""
    settings = built.settings
    adapters = build_adapters(settings.channels, public_url=settings.public_url)
    dispatcher = Dispatcher(
        built.sessions,
        adapters,
        built.desk,
        limiter=rate_limits(settings.channels),
        clock=built.desk.clock,
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=dispatcher.run_forever, args=(stop,), name="outbox-dispatcher", daemon=True
    )
    thread.start()
    matrix = None
    try:
        if settings.matrix.enabled:
            sink = LocalSink(built.sessions, built.desk, on_committed=dispatcher.wake)
            matrix = MatrixRunner(built, sink).start()
            adapters["matrix"] = matrix.adapter()
        yield RunningChannels(adapters, dispatcher, matrix)
    finally:
        if matrix is not None:
            matrix.stop()
        stop.set()
        dispatcher.wake()
        thread.join(timeout=30)
