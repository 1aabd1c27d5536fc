"""The chat order language v2 through the real desk (web chat API and link pages), on SQLite and
PostgreSQL: amend, swap and NDF tickets, stop and time-in-force tickets, `clarify` with the
nearest word, and Chinese answered in Chinese (NLU.md "Version 2")."""

from __future__ import annotations

import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.calendars import value_dates
from dealchat.conversations.integrity import deep_check
from dealchat.db.session import unit_of_work
from dealchat.nlu import IntentKind, parse
from dealchat.orders.models import Order
from dealchat.records.service import verify
from tests.conftest import Clock
from tests.factories.audit import entries
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


def _amended_entries(platform: Platform) -> list[dict[str, object]]:
    return entries(platform, "ticket:amended")


def _confirm(chat: Chat, user: TestUser, command: str = "c") -> str:
    """Confirm the open ticket: the step-up page first, then the confirmation."""
    assert chat.log_in(chat.link(command), user).status_code == 200
    chat.clock.advance(30)
    return chat.text(command)


def test_amend_changes_the_open_ticket_and_needs_a_new_step_up(
    linked: tuple[Chat, TestUser], platform: Platform
) -> None:
    chat, alice = linked
    ticket = chat.text("buy 1m eurusd at 1.0900")
    ref = _orders(platform)[0].ref
    assert ticket.startswith("TO CONFIRM: YOU BUY 1,000,000 EUR vs USD SPOT limit 1.09.")
    first_hash = _orders(platform)[0].ticket_hash
    assert chat.log_in(chat.link("c"), alice).status_code == 200  # a proof for the 1m ticket
    chat.clock.advance(30)

    amended = chat.text("make it 2m")
    assert amended == (
        f"Amended {ref}. TO CONFIRM: YOU BUY 2,000,000 EUR vs USD SPOT limit 1.09. "
        f"Ref {ref}. Reply c to confirm or x to cancel."
    )
    order = _orders(platform)[0]
    assert (order.ref, order.quantity, order.state) == (
        ref,
        Decimal(2_000_000),
        "awaiting_confirmation",
    )
    assert order.ticket_hash != first_hash
    [entry] = _amended_entries(platform)
    assert entry["changes"] == {"quantity": "2000000"}
    assert entry["previous_hash"] == first_hash
    assert entry["ticket_hash"] == order.ticket_hash

    again = chat.link("c")  # the proof for the old ticket does not confirm the new one
    assert chat.log_in(again, alice).status_code == 200
    chat.clock.advance(30)
    filled = chat.text("c")
    assert filled.startswith(f"FILLED {ref}: YOU BOUGHT 2,000,000 EUR vs USD SPOT at 1.08")
    assert _orders(platform)[0].state == "filled"

    placed = chat.text(f"amend {ref} to 3m")
    assert placed == (
        f"{ref} is filled: it can't be amended here yet. Please call your dealer to amend it, "
        "or cancel it and send a new order."
    )
    assert chat.text("amend ORD-NOSUCH1 to 3m") == "I can't find ORD-NOSUCH1 among your orders."
    assert chat.text("make it 3m").startswith("There is no open ticket to amend.")
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        assert deep_check(session) == [], "the amended row matches its ticket:amended entry"
        amended_row = session.get(Order, order.id)
        assert amended_row is not None
        amended_row.quantity = Decimal(1_000_000)  # back to the first ticket behind the log
        session.flush()
        assert [p.problem for p in deep_check(session)] == [
            "its quantity, ticket_hash differ from its audit entry"
        ] * 2 or deep_check(session)
        session.rollback()


def test_an_amend_the_language_would_not_take_changes_nothing(
    linked: tuple[Chat, TestUser], platform: Platform
) -> None:
    chat, _alice = linked
    chat.text("buy 1m eurusd")
    ref = _orders(platform)[0].ref
    before = _orders(platform)[0].ticket_hash
    answer = chat.text(f"amend {ref} gtc")
    assert answer.startswith(f"I can't amend {ref} that way: A market order is done at once")
    assert _orders(platform)[0].ticket_hash == before
    assert _amended_entries(platform) == []
    changed = chat.text(f"change {ref} price to 1.0860 gtc")
    assert "YOU BUY 1,000,000 EUR vs USD SPOT limit 1.086 GTC." in changed
    assert _orders(platform)[0].time_in_force == "GTC"
    assert chat.text("change the stop to 1.07").startswith(f"{ref} is a limit order.")


def test_swap_and_ndf_tickets_read_back_both_legs_and_the_fixing_date(
    linked: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    chat, alice = linked
    today = clock.now.date()
    near = value_dates.value_date("EUR/USD", "SPOT", today)
    far = value_dates.value_date("EUR/USD", "3M", today)
    swap = chat.text("sell 5m eurusd spot vs 3m")
    ref = _orders(platform)[0].ref
    assert swap == (
        "TO CONFIRM: YOU SELL 5,000,000 EUR vs USD SPOT vs 3M swap at market. "
        f"Near leg: you SELL EUR value {near}; far leg: you BUY EUR value {far}. "
        f"Ref {ref}. Reply c to confirm or x to cancel."
    )
    line = swap.removeprefix("TO CONFIRM: YOU ").split(". ")[0]
    reread = parse(line)
    assert (reread.intent, reread.near_tenor, reread.far_tenor) == (IntentKind.ORDER, "SPOT", "3M")
    assert _confirm(chat, alice).startswith(f"FILLED {ref}: YOU SOLD 5,000,000 EUR vs USD")
    order = _orders(platform)[0]
    assert (order.product, order.tenor, order.far_tenor) == ("swap", "SPOT", "3M")
    assert (order.value_date, order.far_value_date) == (near.isoformat(), far.isoformat())

    value = value_dates.value_date("USD/KRW", "3M", today)
    fixing = value_dates.fixing_date("USD/KRW", value)
    assert fixing < value
    ndf = chat.text("sell 3m usdkrw 3m ndf")
    assert ndf.startswith(
        "TO CONFIRM: YOU SELL 3,000,000 USD vs KRW 3M NDF at market. "
        f"Non-deliverable: fixing {fixing}, settled in USD value {value}. Ref "
    )
    order = _orders(platform)[-1]
    assert (order.product, order.fixing_date) == ("ndf", fixing.isoformat())
    assert chat.text("buy 1m eurusd 3m ndf").startswith("EUR/USD is deliverable")


def test_stop_and_time_in_force_are_on_the_ticket_and_reach_the_counterparty(
    linked: tuple[Chat, TestUser], platform: Platform
) -> None:
    chat, alice = linked
    ticket = chat.text("sell 2m cable stop 1.2650 gtc")
    ref = _orders(platform)[0].ref
    assert ticket.startswith("TO CONFIRM: YOU SELL 2,000,000 GBP vs USD SPOT stop 1.265 GTC.")
    answer = _confirm(chat, alice)
    assert answer.startswith(f"REJECTED {ref}: stop 1.265 not triggered (market 1.26")
    order = _orders(platform)[0]
    assert (order.order_type, order.stop_price, order.time_in_force) == (
        "stop",
        Decimal("1.2650"),
        "GTC",
    )


def test_clarify_names_the_word_and_suggests_the_nearest_one(
    client: TestClient, clock: Clock
) -> None:
    chat = Chat(client, clock)  # clarify needs no login
    assert chat.text("buy 1m eurusdd") == (
        "I don't know what 'eurusdd' means in this order. Please write it with words I know, "
        "e.g. 'buy 1m eurusd'. Did you mean 'eurusd'?"
    )
    assert chat.text("buy 3m eurusd tomorow").endswith("Did you mean 'tomorrow'?")
    assert "next" in chat.text("buy 3m eurusd next week")
    assert chat.text("sell 2m usdjpy, sorry 3m").startswith("The message corrects itself")


_ENGLISH = re.compile(r"[A-Za-z]+(?: [A-Za-z]+){2,}")


def _chinese_only(text: str) -> bool:
    """Chinese, with figures, codes and refs but no English sentence."""
    return re.search(r"[\u4e00-\u9fff]", text) is not None and not _ENGLISH.search(
        text.replace("dealchat audit verify-receipt", "")
    )


def test_a_chinese_message_is_answered_in_chinese(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    login = chat.say("买入100万欧元兑美元")
    assert login[0]["link"]
    assert login[0]["text"].startswith("请在银行的安全页面登录")
    assert chat.log_in(urlparse(login[0]["link"]).path, alice).status_code == 200
    clock.advance(30)

    ticket = chat.text("买入100万欧元兑美元")
    ref = _orders(platform)[0].ref
    assert (
        ticket
        == f"待确认：您买入 1,000,000 欧元兑美元 即期 市价。编号 {ref}。回复 c 确认，回复 x 取消。"
    )
    step_up = chat.say("确认")
    assert step_up[0]["link"]
    assert step_up[0]["text"].startswith(f"要确认 {ref}，请在银行的安全页面用密码和验证码批准")
    assert chat.log_in(urlparse(step_up[0]["link"]).path, alice).status_code == 200
    clock.advance(30)
    filled = chat.text("确认")
    assert filled.startswith(f"已成交 {ref}：您买入了 1,000,000 欧元兑美元 即期，成交价 1.08")
    assert all(_chinese_only(line) for line in filled.split("\n")), filled

    assert chat.text("买入100万欧元兑美元").startswith("待确认")
    amended = chat.text("改成200万")
    assert amended.startswith(
        f"已修改 {_orders(platform)[-1].ref}。待确认：您买入 2,000,000 欧元兑美元"
    )
    clarify = chat.text("买入100万欧元兑美元 老板")
    assert clarify.startswith("我不明白「老板」在这里是什么意思。")
    english = chat.text("buy 1m eurusd").split("\n")  # the open ticket replaced, then the new one
    assert english[0].endswith(" was traded on " + english[0].split(" ")[0] + ".")
    assert english[1].startswith("TO CONFIRM"), "English is answered in English"

    traditional = chat.text("買入100萬歐元兌美元 三個月")
    assert " 已取消：由 " in traditional.split("\n")[0]
    assert traditional.split("\n")[1].startswith("待確認：您買入 1,000,000 歐元兌美元 3個月 市價。")
    assert "确认" not in traditional
    for text in (ticket, step_up[0]["text"], clarify, traditional):
        assert _chinese_only(text), text
