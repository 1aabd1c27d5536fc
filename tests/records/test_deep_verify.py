"""Finding 2: operational rows were not checked. One byte of a sealed message body changed, a
message row deleted or a filled order's quantity multiplied by 100 left `audit verify` green.
`dealchat audit verify --deep` recomputes each message's and order's commitment from its row and
names every row that differs, is missing or has no entry; a report over a conversation with one
damaged message flags it and still gives the rest. On SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.channels.outbox import OutboxItem
from dealchat.cli.main import app
from dealchat.conversations import reporting
from dealchat.conversations.integrity import deep_check
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import reading, unit_of_work
from dealchat.orders.models import Order
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user


@pytest.fixture
def traded(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice chats, gets a ticket, confirms with step-up: one filled order."""
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    chat.say("mkt eurusd 1m")
    chat.say("buy 1m eurusd")
    assert chat.log_in(chat.link("c"), alice).status_code == 200
    clock.advance(30)
    assert "FILLED" in chat.text("c")
    with unit_of_work(platform.sessions) as session:
        order = session.scalars(select(Order)).one()
        assert order.state == "filled"
        messages = session.scalars(select(Message).order_by(Message.created_at)).all()
        conversation = session.scalars(select(Conversation)).one()
        return {
            "order": order.id,
            "messages": [m.id for m in messages],
            "conversation": conversation.id,
        }


def _deep(platform: Platform) -> list[str]:
    with reading(platform.sessions) as session:
        return [str(problem) for problem in deep_check(session)]


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    result = CliRunner().invoke(app, ["audit", "verify", *args])
    return result.exit_code, result.output


def test_an_untouched_desk_passes_deep(
    traded: dict[str, Any], platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _deep(platform) == []
    code, output = _cli(settings, monkeypatch, "--deep")
    assert code == 0, output


def test_a_changed_body_byte_a_deleted_message_and_a_multiplied_fill_are_named(
    traded: dict[str, Any], platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed, deleted = traded["messages"][2], traded["messages"][3]
    with unit_of_work(platform.sessions) as session:
        row = session.get(Message, changed)
        assert row is not None
        assert row.body is not None
        body = bytearray(row.body)
        body[-1] ^= 0x01
        session.execute(update(Message).where(Message.id == changed).values(body=bytes(body)))
        session.execute(
            update(Message).where(Message.reply_to_id == deleted).values(reply_to_id=None)
        )
        session.execute(delete(OutboxItem).where(OutboxItem.message_id == deleted))
        session.execute(delete(Message).where(Message.id == deleted))
        session.execute(
            update(Order)
            .where(Order.id == traded["order"])
            .values(quantity=Order.quantity * 100, fill_quantity=Order.fill_quantity * 100)
        )
    plain_code, _plain = _cli(settings, monkeypatch)
    assert plain_code == 0, "the log itself is intact: without --deep this stays green"
    problems = _deep(platform)
    assert f"message {changed}" in "\n".join(problems)
    assert any(p.startswith(f"message {changed} (entry ") and "sealed body does not match" in p
               for p in problems)  # fmt: skip
    assert any(p.startswith(f"message {deleted} (entry ") and "is missing" in p for p in problems)
    order = traded["order"]
    assert any(p.startswith(f"order {order} (entry ") and "quantity" in p and "differ" in p
               for p in problems)  # fmt: skip
    assert any(p.startswith(f"order {order}") and "fill (quantity)" in p for p in problems)
    code, output = _cli(settings, monkeypatch, "--deep")
    assert code == 1
    assert f"row FAILED: message {changed}" in output
    assert "operational rows differ from them" in output


def test_a_row_with_no_entry_is_named(
    traded: dict[str, Any], platform: Platform, clock: Clock
) -> None:
    with unit_of_work(platform.sessions) as session:
        session.add(Message(id="f" * 32, conversation_id=traded["conversation"], direction="in",
                            sender_id="sender-alice-01", body=b"\x00" * 40))  # fmt: skip
        order = session.get(Order, traded["order"])
        assert order is not None
        session.execute(update(Order).where(Order.id == order.id).values(fill_price=Decimal("0.5")))
    problems = _deep(platform)
    assert f"message {'f' * 32}: has no audit entry" in problems
    assert any("fill (price)" in p for p in problems)


def test_a_report_flags_the_damaged_message_and_gives_the_rest(
    traded: dict[str, Any], platform: Platform
) -> None:
    damaged = traded["messages"][0]
    with unit_of_work(platform.sessions) as session:
        row = session.get(Message, damaged)
        assert row is not None
        assert row.body is not None
        session.execute(
            update(Message).where(Message.id == damaged).values(body=bytes(row.body)[:-1] + b"?")
        )
        report = reporting.build(
            session, platform.desk, start=None, end=None, conversation=traded["conversation"]
        )
    texts = [row.text for row in report.rows if row.text is not None]
    flagged = [text for text in texts if text.startswith("[DAMAGED:")]
    assert flagged == [
        f"[DAMAGED: message {damaged} its sealed body does not match its audit entry (SHA-256)]"
    ]
    assert any("FILLED" in text for text in texts), "the rest of the conversation is there"
