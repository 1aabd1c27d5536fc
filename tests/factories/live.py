"""A real server for tests that follow live streams: uvicorn on a loopback port, on SQLite or
PostgreSQL (the `database_url` fixture), and a Server-Sent Events reader."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from dealchat.api.deps import Platform
from dealchat.app import build_platform, create_app
from dealchat.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(
    database_url: str,
    data_dir: Path,
    clock: Callable[[], dt.datetime] | None = None,
    *,
    changed: Callable[[Platform], Platform] | None = None,
) -> Iterator[tuple[str, Platform]]:
    """The platform on `database_url`, served at the URL it is yielded with (its public URL);
    the desk reads `clock` when given; `changed` adjusts the platform before it is served."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings(data_dir=data_dir, database_url=database_url, public_url=url)
    platform = build_platform(settings)
    if clock is not None:
        platform = dataclasses.replace(
            platform, desk=dataclasses.replace(platform.desk, clock=clock)
        )
    if changed is not None:
        platform = changed(platform)
    config = uvicorn.Config(
        create_app(platform=platform), host="127.0.0.1", port=port, log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield url, platform
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        platform.engine.dispose()


@dataclass(frozen=True)
class Event:
    id: str
    kind: str
    data: dict[str, Any]


class EventReader:
    """Reads a Server-Sent Events stream on its own thread; `next()` waits for the next event."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None) -> None:
        self._events: queue.Queue[Event] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=None), headers=headers)
        self._stop = threading.Event()
        self.status = 0
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the stream did not open"

    def _read(self, url: str) -> None:
        try:
            with self._client.stream("GET", url) as response:
                self.status = response.status_code
                self._opened.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if not line:
                        if "data" in fields:
                            data = json.loads(fields["data"])
                            self._events.put(Event(fields.get("id", ""), fields["event"], data))
                        fields = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        fields[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()

    def next(self, timeout: float = 5.0) -> Event:
        return self._events.get(timeout=timeout)

    def none_within(self, seconds: float) -> bool:
        try:
            self._events.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self._stop.set()
        self._client.close()
