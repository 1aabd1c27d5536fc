"""A platform whose orders go over FIX 4.4 to QuickFIX's executor, and helpers to wait on it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import build_platform
from dealchat.conversations import bodies, executions
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.execution.fix.runtime import FixVenue
from dealchat.settings import ExecutionSettings, Settings
from tests.conftest import Clock
from tests.execution.executor import Executor

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], *, seconds: float = 15, what: str = "it") -> T:
    """Poll `probe` until it returns something truthy; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.02)
    pytest.fail(f"timed out after {seconds}s waiting for {what}")


def fix_platform_for(
    database_url: str, data_dir: Path, clock: Clock, execution: ExecutionSettings
) -> Platform:
    built = build_platform(
        Settings(data_dir=data_dir, database_url=database_url, execution=execution)
    )
    desk = dataclasses.replace(built.desk, clock=clock)
    assert built.venue is not None
    built.venue.receive = executions.receiver(desk)
    return dataclasses.replace(built, desk=desk)


def logged_on(venue: FixVenue, provider: str = "EXEC") -> None:
    eventually(lambda: venue.engine.logged_on(provider), what=f"logon to {provider}")


@pytest.fixture
def fix_platform(
    database_url: str, tmp_path: Path, clock: Clock, executor: Executor
) -> Iterator[Platform]:
    built = fix_platform_for(
        database_url, tmp_path / "var", clock, executor.execution(executor.comp_id())
    )
    assert built.venue is not None
    built.venue.start()
    logged_on(built.venue)
    yield built
    built.venue.stop()
    built.engine.dispose()


def chat_texts(platform: Platform, conversation_external_id: str | None = None) -> list[str]:
    """Every bot message stored so far, opened, oldest first."""
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(
            select(Message).where(Message.direction == "out").order_by(Message.created_at)
        ).all()
        return [bodies.text_of(session, platform.desk, row) for row in rows]
