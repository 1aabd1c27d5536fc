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
from dealchat.conversations import bodies, executions, order_ticket
from dealchat.conversations.models import Conversation, Message
from dealchat.db.base import new_id
from dealchat.db.session import unit_of_work
from dealchat.execution.fix.runtime import FixVenue
from dealchat.orders import service as orders
from dealchat.orders.models import Order
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


def place(platform: Platform, client_id: str, text: str, *, value_date: str | None = None) -> Order:
    """A confirmed order of `client_id`, as the chat makes one, handed to the FIX venue (the
    pre-trade controls and the step-up are the chat's, tested elsewhere)."""
    desk = platform.desk
    with unit_of_work(platform.sessions) as session:
        conversation = Conversation(channel="webchat", external_id=f"conv-{new_id()}")
        session.add(conversation)
        session.flush()
        intent = desk.parser.parse(text, desk.clock().date())
        fields = order_ticket.fields_from_intent(intent, desk.clock().date())
        assert isinstance(fields, dict), fields
        if value_date is not None:
            fields["value_date"] = value_date
        order = orders.create_ticket(
            session,
            conversation_id=conversation.id,
            client_id=client_id,
            ticket_fields=fields,
            now=desk.clock(),
        )
        reply = executions.place(session, desk=desk, order=order, now=desk.clock())
        assert reply.startswith("SENT"), reply
        return order


def reload(platform: Platform, order_id: str) -> Order:
    with unit_of_work(platform.sessions) as session:
        found = session.get(Order, order_id)
        assert found is not None
        return found


def reload_ref(platform: Platform, ref: str) -> Order:
    with unit_of_work(platform.sessions) as session:
        return session.scalars(select(Order).where(Order.ref == ref)).one()
