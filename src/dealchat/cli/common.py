"""What every command shares: the platform built from settings, closed when the command ends."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

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


class Ended(SystemExit):
    """Raised in the main thread when an ending signal arrives; exits 128 + the signal."""


def _end(signum: int, _frame: FrameType | None) -> None:
    raise Ended(128 + signum)


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
