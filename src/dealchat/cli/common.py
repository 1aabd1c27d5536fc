"""What every command shares: the platform built from settings, closed when the command ends."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import uvicorn

from dealchat.api.deps import Platform
from dealchat.app import build_platform
from dealchat.settings import Settings


@contextmanager
def platform(settings: Settings | None = None) -> Iterator[Platform]:
    built = build_platform(settings or Settings())
    try:
        yield built
    finally:
        built.engine.dispose()


# Signals that end a long-running command: each unwinds it like Ctrl-C does, so every `finally`
# and context manager runs (the demo's local clamd is stopped, the checkpointer signs its last).
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


# How long a stopping server lets open requests finish before it cancels them. The live pages'
# event streams end by themselves once the server stops (`app.state.stopping`, within a second);
# without the flag they last 5 minutes, and a stop with a console or chat tab open waited that long.
GRACEFUL_SHUTDOWN_SECONDS = 5


class _Server(uvicorn.Server):
    """uvicorn's server, which tells the app it is stopping before it waits for open requests."""

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping.set()  # the event streams end (`live.streams`), nothing left to cancel
        await super().shutdown(sockets=sockets)


class Ended(SystemExit):
    """Raised in the main thread when an ending signal arrives; exits 128 + the signal."""


_SERVING: list[uvicorn.Server] = []  # the server `serve_app` runs, while it runs
_ASKED: list[int] = []  # an ending signal that asked it to stop


def _end(signum: int, _frame: FrameType | None) -> None:
    """While a server runs, ask it to stop like uvicorn's own SIGTERM does (raising inside its
    event loop would cancel it half-way and can leave the process hanging); else unwind now."""
    if _SERVING and not _SERVING[-1].should_exit:
        _ASKED.append(signum)
        _SERVING[-1].should_exit = True
        return
    raise Ended(128 + signum)


def serve_app(app: Any, host: str, port: int, sockets: list[socket.socket] | None = None) -> None:
    """Run `app` with uvicorn (no access log: dealchat.access writes a redacted one; no proxy
    headers: uvicorn would believe X-Forwarded-For from any local peer) until it is
    stopped; a SIGHUP or SIGQUIT stops it gracefully, then unwinds the command as `Ended`.
    `sockets`: already listening (`dealchat serve --workers`), else it binds host and port."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        server_header=False,
        access_log=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        proxy_headers=False,  # the client's address is api.front's, from our trusted proxies
    )
    stopping = threading.Event()
    state = getattr(app, "state", None)
    if state is not None:
        state.stopping = stopping
    server = _Server(config, stopping)
    _SERVING.append(server)
    try:
        server.run(sockets=sockets)
    finally:
        _SERVING.remove(server)
    if _ASKED:
        raise Ended(128 + _ASKED.pop())


@contextmanager
def ending_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM, SIGHUP and SIGQUIT unwind the command (SIGINT already does).

    uvicorn catches these while it serves and, once it has shut down, raises the signal again
    with the handlers it found: these, so the command's own clean-up runs instead of the process
    dying at once and leaving its children (a local clamd) behind."""
    previous = {sig: signal.signal(sig, _end) for sig in ENDING_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
