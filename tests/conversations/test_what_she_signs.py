"""What the client signs is what she sees (issue 14 item 5), through the web chat and the bank's
pages, on SQLite and PostgreSQL: the fill states both amounts and the value date, `status` the
fill time and not the dropped tickets unless asked (`status all`)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.calendars import value_dates
from dealchat.db.session import unit_of_work
from dealchat.execution.models import Settlement
from dealchat.orders.models import Order
from dealchat.records.chain import decimal_text
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user


@pytest.fixture
def linked(client: TestClient, platform: Platform, clock: Clock) -> tuple[Chat, TestUser]:
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    return chat, alice


def _orders(platform: Platform) -> list[Order]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(Order).order_by(Order.created_at)))


def _confirm(chat: Chat, user: TestUser, command: str = "c") -> str:
    """Confirm the open ticket: the step-up page first, then the confirmation."""
    assert chat.log_in(chat.link(command), user).status_code == 200
    chat.clock.advance(30)
    return chat.text(command)


def test_the_fill_states_both_amounts_and_the_value_date(
    linked: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    chat, alice = linked
    chat.text("sell 2m gbpusd 1w")
    fill = _confirm(chat, alice)
    order = _orders(platform)[-1]
    assert order.state == "filled"
    assert order.fill_price is not None
    value = value_dates.value_date("GBP/USD", "1W", clock.now.date()).isoformat()
    usd = (Decimal(2_000_000) * order.fill_price).quantize(Decimal("0.01"))
    head, amounts = fill.split("\n")[:2]
    assert head.startswith(f"FILLED {order.ref}: YOU SOLD 2,000,000 GBP vs USD 1W at ")
    assert amounts == (f"You sold GBP 2,000,000.00 / bought USD {usd:,f}, value date {value}.")
    with unit_of_work(platform.sessions) as session:  # the legs recon matches, the bank's side
        booked = session.scalars(select(Settlement).where(Settlement.order_id == order.id)).all()
    assert {(s.currency, s.amount, s.value_date) for s in booked} == {
        ("GBP", Decimal("-2000000.00"), value),
        ("USD", usd, value),
    }

    chat.text("买入100万欧元兑美元")
    chinese = _confirm(chat, alice, "确认")
    euro = _orders(platform)[-1]
    assert euro.fill_price is not None
    dollars = (Decimal(1_000_000) * euro.fill_price).quantize(Decimal("0.01"))
    spot = value_dates.spot_date("EUR/USD", clock.now.date()).isoformat()
    assert chinese.split("\n")[1] == (
        f"您买入了 欧元 1,000,000.00／卖出了 美元 {dollars:,f}，起息日 {spot}。"
    )


def test_status_shows_the_fill_time_and_hides_dropped_tickets_unless_asked(
    linked: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    chat, alice = linked
    chat.text("buy 1m eurusd")
    _confirm(chat, alice)
    filled = _orders(platform)[-1]
    assert filled.filled_at is not None
    clock.advance(60)
    chat.text("sell 3m usdjpy")
    chat.text("x")  # cancelled before it went anywhere
    clock.advance(1)
    chat.text("buy 2m eurchf")
    clock.advance(601)
    chat.text("c")  # too late: expired before it went anywhere
    cancelled, expired = _orders(platform)[1:]
    assert (cancelled.state, expired.state) == ("cancelled", "expired")

    status = chat.text("status")
    fill_time = filled.filled_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    ordered = filled.created_at.strftime("%Y-%m-%d %H:%M UTC")
    assert filled.fill_price is not None
    price = decimal_text(filled.fill_price)
    assert status.split("\n") == [
        f"{filled.ref} FILLED BUY 1,000,000 EUR vs USD SPOT at market, done at "
        f"{price} on {fill_time} (ordered {ordered})",
        "2 cancelled or expired tickets not shown: type status all to see them.",
    ]
    everything = chat.text("status all")
    assert [line.split(" ")[:2] for line in everything.split("\n")] == [
        [expired.ref, "EXPIRED"],
        [cancelled.ref, "CANCELLED"],
        [filled.ref, "FILLED"],
    ]
    assert chat.text(f"status {cancelled.ref}").startswith(f"{cancelled.ref} CANCELLED")

    chinese = chat.text("状态")
    assert chinese.split("\n") == [
        f"{filled.ref} 已成交 买入 1,000,000 欧元兑美元 即期 市价，成交价 {price}，"
        f"成交时间 {fill_time}（下单 {ordered}）",
        "另有 2 张已取消或已过期的订单未显示：输入「状态 全部」查看。",
    ]
    assert len(chat.text("全部订单").split("\n")) == 3


def test_only_dropped_tickets_are_not_no_orders(
    linked: tuple[Chat, TestUser], platform: Platform
) -> None:
    chat, _alice = linked
    assert chat.text("status") == "You have no orders yet."
    chat.text("buy 1m eurusd")
    chat.text("x")
    assert chat.text("status") == (
        "1 cancelled or expired tickets not shown: type status all to see them."
    )
    assert chat.text("status all").startswith(f"{_orders(platform)[0].ref} CANCELLED")
