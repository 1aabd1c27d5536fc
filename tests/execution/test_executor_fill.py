"""A chat order through a real FIX counterparty: QuickFIX's executor fills it; the client hears."""

from __future__ import annotations

import json
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.execution.models import FixMessage, FixOutbound, OrderFill
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.conftest import Clock
from tests.execution.conftest import chat_texts, eventually
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user


def confirmed(chat: Chat, user: TestUser, order_text: str) -> str:
    assert chat.text(order_text).startswith("TO CONFIRM"), order_text
    assert chat.log_in(chat.link("c"), user).status_code == 200
    return chat.text("c")


def order_state(platform: Platform, ref: str) -> Order:
    with unit_of_work(platform.sessions) as session:
        return session.scalars(select(Order).where(Order.ref == ref)).one()


def filled(platform: Platform, ref: str) -> Order | None:
    order = order_state(platform, ref)
    return order if order.state == "filled" else None


def events_of(platform: Platform, order: Order) -> list[tuple[str, dict[str, object]]]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject == f"order:{order.id}")
            .order_by(AuditEntry.seq)
        ).all()
        return [(row.event, json.loads(row.payload)) for row in rows]


def test_chat_order_is_filled_by_the_executor(fix_platform: Platform, clock: Clock) -> None:
    with TestClient(create_app(platform=fix_platform)) as http:
        alice = make_user(fix_platform)
        chat = Chat(http, clock)
        chat.link_and_log_in(alice)
        sent = confirmed(chat, alice, "buy 1m eurusd at 1.0851")
        assert sent.startswith("SENT ORD-"), sent
        ref = sent.split()[1]
        order = eventually(lambda: filled(fix_platform, ref), what=f"{ref} filled")
    assert order.fill_price == Decimal("1.0851")
    assert order.fill_quantity == Decimal("1000000")
    assert order.executed_by == "EXEC"
    assert order.routed_to == "EXEC"
    assert order.clordid == ref
    assert order.lp_order_id
    texts = chat_texts(fix_platform)
    fill_line = next(text for text in texts if text.startswith(f"FILLED {ref}"))
    assert "YOU BOUGHT 1,000,000 EUR" in fill_line
    assert "at 1.0851 with EXEC" in fill_line
    events = [event for event, _ in events_of(fix_platform, order) if event.startswith("order:")]
    assert events == ["order:placed", "order:sent", "order:filled"]
    sent_entry = dict(events_of(fix_platform, order))["order:sent"]
    assert sent_entry["clordid"] == ref
    assert sent_entry["seq"] == 2
    with unit_of_work(fix_platform.sessions) as session:
        journal = session.scalars(select(FixMessage).order_by(FixMessage.at)).all()
        assert [(m.direction, m.msg_type) for m in journal] == [("out", "D"), ("in", "8")]
        assert "|44=1.0851|" in journal[0].raw
        assert "|40=2|" in journal[0].raw
        fills = session.scalars(select(OrderFill)).all()
        assert [(f.exec_id, f.quantity) for f in fills] == [(order.execution_id, Decimal(1000000))]
        outbox = session.scalars(select(FixOutbound)).one()
        assert (outbox.state, outbox.seq_num) == ("sent", 2)
        assert verify(session).ok
