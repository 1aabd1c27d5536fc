"""The main flow through the web chat API and the link page, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations.desk import notify
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.pricing.interfaces import Instrument
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user


@pytest.fixture
def linked(client: TestClient, platform: Platform, clock: Clock) -> tuple[Chat, TestUser]:
    """A chat whose sender is already linked to alice, with a fresh session."""
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    return chat, alice


def _orders(platform: Platform) -> list[Order]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(Order).order_by(Order.created_at)))


def _events(platform: Platform) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)))


def test_link_quote_order_confirm_fill(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    assert chat.text("hello").startswith("I take FX and bond orders")

    login = chat.link("mkt eurusd 1m")
    page = client.get(login)
    assert page.status_code == 200
    assert 'name="password"' in page.text
    assert chat.log_in(login, alice).status_code == 200
    clock.advance(30)

    quote = chat.text("mkt eurusd 1m")
    assert quote.startswith("EUR/USD 1,000,000 EUR SPOT: 1.08")
    ticket = chat.text("buy 1m eurusd 1W 360t")
    assert ticket.startswith("TO CONFIRM: YOU BUY 1,000,000 EUR vs USD 1W at market with 360T")
    approve = chat.link("c")
    assert chat.log_in(approve, alice).status_code == 200

    fill = chat.text("c")
    order = _orders(platform)[0]
    assert fill.startswith(f"FILLED {order.ref}: YOU BOUGHT 1,000,000 EUR vs USD 1W at 1.08")
    assert order.state == "filled"
    assert order.quantity == Decimal("1000000")
    one_week = platform.desk.prices.price(
        Instrument(pair="EUR/USD"), quantity=None, tenor="1W", trade_date=clock.now.date()
    )
    assert one_week.points is not None
    assert one_week.points[1] > 0
    assert order.fill_price == one_week.ask
    assert order.executed_by == "360T"
    assert order.ref in chat.text("status")
    assert "nothing to confirm" in chat.text("c").lower()
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
    events = _events(platform)
    assert events.index("ticket:created") < events.index("stepup:granted")
    assert events.index("stepup:used") < events.index("order:placed") < events.index("order:filled")


def test_repeated_message_id_returns_the_same_replies_and_records_nothing_twice(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    first = chat.say("mkt eurusd 1m", message_id="dup-1")
    with unit_of_work(platform.sessions) as session:
        messages = session.scalar(select(func.count()).select_from(Message))
        entries = session.scalar(select(func.count()).select_from(AuditEntry))
    again = chat.say("mkt eurusd 1m", message_id="dup-1")
    assert again == first
    assert first[0]["link"]
    with unit_of_work(platform.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == messages
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == entries


def test_quotes_expire(linked: tuple[Chat, TestUser], platform: Platform, clock: Clock) -> None:
    chat, _alice = linked
    assert "1.08" in chat.text("px eurusd 1m")
    clock.advance(31)
    assert "no live price" in chat.text("mine").lower()

    chat.text("px eurusd 1m")
    ticket = chat.text("mine")
    assert "limit 1.08511" in ticket
    clock.advance(31)
    assert "expired" in chat.text("c").lower()
    assert _orders(platform)[-1].state == "expired"
    chat.text("px eurusd")
    assert chat.text("mine") == (
        "That price had no amount. Ask for one with an amount, e.g. 'mkt eurusd 1m'."
    )
    chat.text("px eurusd 1m")
    assert (
        chat.text("mine 2m") == "That price was for 1,000,000. Ask for a new price for 2,000,000."
    )


def test_an_old_ticket_cannot_be_confirmed(
    linked: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    chat, _alice = linked
    chat.text("buy 1m eurusd")
    clock.advance(601)
    order = _orders(platform)[0]
    assert chat.text("c") == (
        f"{order.ref} was not confirmed in time, so it was not traded. Send the order again."
    )
    assert _orders(platform)[0].state == "expired"


def test_confirm_with_nothing_to_confirm(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    chat = Chat(client, clock)
    first = chat.link("c")  # an unlinked chat is sent to log in first
    assert chat.log_in(first, make_user(platform)).status_code == 200
    clock.advance(30)
    assert "nothing to confirm" in chat.text("c").lower()
    assert "nothing to cancel" in chat.text("x").lower()


def test_step_up_is_bound_to_the_ticket_hash(
    linked: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    chat, alice = linked
    chat.text("buy 1m eurusd")
    assert chat.log_in(chat.link("c"), alice).status_code == 200
    clock.advance(30)
    replaced = chat.text("buy 2m eurusd")
    assert "2,000,000" in replaced
    replies = chat.say("c")
    assert replies[0]["link"], "the proof for the first ticket must not confirm the second"
    first, second = _orders(platform)
    assert first.state == "cancelled"
    assert second.state == "awaiting_confirmation"


def test_another_user_cannot_approve(client: TestClient, platform: Platform, clock: Clock) -> None:
    alice, bob = make_user(platform), make_user(platform, "bob")
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    chat.text("sell 1m eurusd")
    approve = chat.link("c")
    assert chat.log_in(approve, bob).status_code == 401
    again = chat.say("c")
    assert again[0]["link"] is None, "the step-up link is still live: not a second one"
    assert "already sent" in again[0]["text"]
    assert _orders(platform)[0].state == "awaiting_confirmation"


def test_cancel_and_status(client: TestClient, platform: Platform, clock: Clock) -> None:
    chat = Chat(client, clock)
    chat.link_and_log_in(make_user(platform))
    assert "no orders" in chat.text("status").lower()
    chat.text("sell 250k usdjpy at 151.20")
    order = _orders(platform)[0]
    assert chat.text(f"cancel {order.ref}") == f"Cancelled {order.ref}. Nothing was traded."
    assert order.ref not in chat.text("status")  # a dropped ticket: only with `status all`
    assert order.ref in chat.text("status all")
    assert "can't find" in chat.text("status ORD-NOPE1234").lower()


def test_clarify_gets_the_reason(client: TestClient, platform: Platform, clock: Clock) -> None:
    chat = Chat(client, clock)
    assert "how much" in chat.text("buy eurusd").lower()
    assert "didn't understand" in chat.text("what's the weather like").lower()


def test_an_unmarketable_limit_is_rejected_plainly(
    linked: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    chat, alice = linked
    chat.text("sell 250k usdjpy at 151.20")
    assert chat.log_in(chat.link("c"), alice).status_code == 200
    order = _orders(platform)[0]
    answer, receipt_line = chat.text("c").split("\n")
    assert answer == (
        f"REJECTED {order.ref}: limit 151.2 not reached (market 151.184). Nothing was traded."
    )
    assert receipt_line.startswith("Your signed receipt")  # it did reach the counterparty
    assert _orders(platform)[0].state == "rejected"


def test_notify_stores_and_audits_a_message_that_answers_nothing(
    client: TestClient, platform: Platform, clock: Clock
) -> None:

    Chat(client, clock).text("hello")
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        out = notify(
            session,
            desk=platform.desk,
            conversation_id=conversation.id,
            answer=OutboundMessage("ORD-1 was released by the desk."),
        )
        assert out.direction == "out"
        assert out.reply_to_id is None
    with unit_of_work(platform.sessions) as session:
        assert _events(platform)[-1] == "message:sent"
        assert verify(session).ok
        with pytest.raises(LookupError):
            notify(
                session,
                desk=platform.desk,
                conversation_id="nope",
                answer=OutboundMessage("x"),
            )


def test_a_repeated_message_id_replays_only_to_its_own_sender(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    """A redelivered message id gets the stored replies again, but only from the sender who
    wrote it: the same id from another sender (in the same conversation) used to get them too,
    the secure login link bound to the first sender's chat included."""
    alice = Chat(client, clock, sender="sender-alice-01")
    first = alice.say("login", message_id="m-replayed-0001")
    assert first[0]["link"]
    assert alice.say("login", message_id="m-replayed-0001") == first, "a redelivery"
    mallory = Chat(client, clock, sender="sender-mallory-1")
    assert mallory.say("login", message_id="m-replayed-0001") == []
    with unit_of_work(platform.sessions) as session:
        inbound = session.scalars(select(Message).where(Message.direction == "in")).all()
    assert [m.sender_id for m in inbound] == ["sender-alice-01"], "nothing recorded twice"
