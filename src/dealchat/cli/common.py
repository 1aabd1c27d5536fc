"""What every command shares: the platform built from settings, closed when the command ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
