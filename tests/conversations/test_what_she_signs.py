"""What the client signs is what she sees (issue 14 item 5), through the web chat and the bank's
pages, on SQLite and PostgreSQL: the fill states both amounts and the value date, `status` the
fill time and not the dropped tickets unless asked (`status all`)."""

from __future__ import annotations

import base64
import html
import json
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.calendars import value_dates
from dealchat.cli.main import app as cli
from dealchat.db.session import unit_of_work
from dealchat.execution.models import Settlement
from dealchat.identity import service as identity
from dealchat.identity.handles import shown_handle
from dealchat.orders.models import Order
from dealchat.records.chain import decimal_text
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.keys import load_keyring
from dealchat.records.receipts_verify import verify_receipt
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
        "1 cancelled or expired ticket not shown: type status all to see it."
    )
    assert chat.text("状态") == "另有 1 张已取消或已过期的订单未显示：输入「状态 全部」查看。"
    assert chat.text("status all").startswith(f"{_orders(platform)[0].ref} CANCELLED")


def test_a_ticket_replaced_by_a_newer_request_is_cancelled_and_she_is_told(
    linked: tuple[Chat, TestUser], platform: Platform
) -> None:
    chat, alice = linked
    chat.text("buy 1m eurusd")
    replies = chat.say("sell 2m gbpusd 1m")
    first, second = _orders(platform)
    assert [reply["text"] for reply in replies] == [
        f"{first.ref} cancelled: replaced by {second.ref}. Nothing was traded on {first.ref}.",
        f"TO CONFIRM: YOU SELL 2,000,000 GBP vs USD 1M at market. Ref {second.ref}. "
        "Reply c to confirm or x to cancel.",
    ]
    assert (first.state, second.state) == ("cancelled", "awaiting_confirmation")
    [cancelled] = [
        entry for entry in entries(platform, "ticket:cancelled") if entry["ref"] == first.ref
    ]
    assert (cancelled["reason"], cancelled["replaced_by"]) == (
        f"replaced by {second.ref}",
        second.ref,
    )
    assert cancelled["subject"] == f"order:{first.id}"
    assert _confirm(chat, alice).startswith(f"FILLED {second.ref}: YOU SOLD 2,000,000 GBP")

    chat.text("买入100万欧元兑美元")
    chinese = chat.say("卖出200万英镑兑美元")
    third, fourth = _orders(platform)[2:]
    assert chinese[0]["text"] == f"{third.ref} 已取消：由 {fourth.ref} 取代。{third.ref} 没有成交。"
    assert chinese[1]["text"].startswith("待确认：您卖出 2,000,000 英镑兑美元")
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def _cells(page: str) -> dict[str, str]:
    """The ticket table of a step-up page: label -> value, as the HTML holds them."""
    found = re.findall(r'<tr><th scope="row">([^<]*)</th><td>([^<]*)</td></tr>', page)
    return {html.unescape(label): html.unescape(value) for label, value in found}


def test_the_step_up_page_shows_the_exact_ticket_and_the_chat_it_came_from(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock, sender="sender-alice-web-7")
    login = chat.link("login")
    page = client.get(login).text
    assert "This links your chat on Web chat, <strong>sender-alice-web-7</strong>, to" in page
    assert chat.log_in(login, alice).status_code == 200
    clock.advance(30)

    chat.text("sell 2m gbpusd 1w at 1.2600 360t")
    order = _orders(platform)[-1]
    approve = chat.link("c")
    shown = client.get(approve)
    assert shown.status_code == 200
    value = value_dates.value_date("GBP/USD", "1W", order.created_at.date()).isoformat()
    expected = {
        "Reference": order.ref,
        "Side": "You sell",
        "Amount": "2,000,000 GBP",
        "Currency pair": "GBP/USD",
        "Tenor": "1W",
        "Value date": value,
        "Price": "Limit 1.26",
        "Counterparty": "360T",
        "As read back in your chat": "SELL 2,000,000 GBP vs USD 1W limit 1.26 with 360T",
    }
    assert _cells(shown.text) == expected
    assert "Asked for in your chat on Web chat, <strong>sender-alice-web-7</strong>." in shown.text
    assert 'name="otp"' in shown.text

    wrong = chat.log_in(approve, alice, otp="000000")  # a failed try shows the same ticket
    assert wrong.status_code == 401
    assert _cells(wrong.text) == expected
    clock.advance(30)
    approved = chat.log_in(approve, alice)
    assert approved.status_code == 200
    assert _cells(approved.text) == expected
    clock.advance(30)
    assert chat.text("c").startswith(f"FILLED {order.ref}: YOU SOLD 2,000,000 GBP vs USD 1W")

    chat.text("buy 1m eurusd")  # a market order, the desk's counterparty, spot
    spot = _orders(platform)[-1]
    cells = _cells(client.get(chat.link("c")).text)
    assert (cells["Price"], cells["Counterparty"], cells["Tenor"]) == (
        "At market (the price when it is filled)",
        "SIM (the desk's default)",
        "SPOT",
    )
    assert (
        cells["Value date"] == value_dates.spot_date("EUR/USD", spot.created_at.date()).isoformat()
    )


def test_a_link_for_a_phone_number_masks_it(platform: Platform, client: TestClient) -> None:
    with unit_of_work(platform.sessions) as session:
        token = identity.issue_link(
            session,
            channel="whatsapp",
            external_id="447700900456",
            purpose="link",
            ticket_hash=None,
            policy=platform.desk.policy,
            now=platform.desk.clock(),
        )
    page = client.get(f"/link/{token}").text
    assert "This links your chat on WhatsApp, <strong>+44•••••0456</strong>, to" in page
    assert "447700900456" not in page
    assert shown_handle("telegram", "123456789") == "123456789"  # an id, not a number
    assert shown_handle("webchat", "+1 650 555 1234") == "+16•••••1234"


def test_the_receipt_link_opens_a_readable_page_with_the_signed_receipt(
    linked: tuple[Chat, TestUser], client: TestClient, platform: Platform, tmp_path: Path
) -> None:
    chat, alice = linked
    clock, settings = chat.clock, platform.settings
    chat.text("sell 2m gbpusd 1w 360t")
    assert chat.log_in(chat.link("c"), alice).status_code == 200
    clock.advance(30)
    [fill] = chat.say("c")
    order = _orders(platform)[-1]
    assert order.fill_price is not None
    assert order.filled_at is not None
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    shown = client.get(urlparse(fill["link"]).path, headers=browser)
    assert shown.status_code == 200
    assert shown.headers["content-type"].startswith("text/html")
    cells = _cells(shown.text)
    usd = (Decimal(2_000_000) * order.fill_price).quantize(Decimal("0.01"))
    value = value_dates.value_date("GBP/USD", "1W", order.filled_at.date()).isoformat()
    assert cells["Reference"] == order.ref
    assert cells["Order"] == "SELL 2,000,000 GBP vs USD 1W at market with 360T"
    assert cells["State"] == "filled"
    assert cells["Fill price"] == decimal_text(order.fill_price.normalize())
    assert cells["Filled"] == order.filled_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert (cells["You sold"], cells["You bought"]) == ("GBP 2,000,000.00", f"USD {usd:,f}")
    assert cells["Value date"] == value
    assert (cells["Executed by"], cells["Execution"]) == ("360T", order.execution_id)

    found = re.search(
        r'download="(receipt-ORD-\w+\.json)" href="data:application/json;base64,([^"]+)"',
        shown.text,
    )
    assert found is not None
    assert found.group(1) == f"receipt-{order.ref}.json"
    downloaded = tmp_path / found.group(1)
    downloaded.write_bytes(base64.b64decode(found.group(2)))
    assert (
        verify_receipt(json.loads(downloaded.read_text()), keys=load_keyring(settings.keys_dir)).ref
        == order.ref
    )
    vkey = CheckpointKeys.load(settings.keys_dir, settings.records.origin).signer.verifier.vkey
    result = CliRunner().invoke(cli, ["audit", "verify-receipt", str(downloaded), "--key", vkey])
    assert result.exit_code == 0, result.output
    assert f"receipt OK: {order.ref}" in result.output
    assert f"dealchat audit verify-receipt {found.group(1)}" in shown.text

    [again] = chat.say(f"status {order.ref}")  # an API client still gets the JSON
    as_json = client.get(urlparse(again["link"]).path, headers={"Accept": "application/json"})
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json()["order"]["ref"] == order.ref


SCRIPTS = {
    "zh-Hans": ("买入100万欧元兑美元", ("编号", "方向", "您买入", "聊天中的复述"),
                "已批准。请回到聊天并回复 c 确认。"),
    "zh-Hant": ("買入100萬歐元兌美元", ("編號", "方向", "您買入", "聊天中的複述"),
                "已批准。請回到聊天並回復 c 確認。"),
}  # fmt: skip


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_the_pages_speak_the_language_the_chat_asked_in(
    client: TestClient, platform: Platform, clock: Clock, script: str
) -> None:
    """A client who writes Chinese gets the bank's pages in Chinese, in her script: the login,
    the step-up page's ticket (its read-back as the chat said it) and the answers; a spent link
    follows the browser's language."""
    order_text, labels, approved_text = SCRIPTS[script]
    alice = make_user(platform)
    chat = Chat(client, clock, sender="sender-alice-zh-1")
    login = chat.link("登录" if script == "zh-Hans" else "登錄")
    page = client.get(login).text
    assert f'<html lang="{script}">' in page
    assert chat.log_in(login, alice).text.count("Go back") == 0
    clock.advance(30)
    ticket = chat.text(order_text)
    approve = chat.link("确认" if script == "zh-Hans" else "確認")
    shown = client.get(approve)
    cells = _cells(shown.text)
    reference, side, buy, read_back = labels
    assert cells[reference] == _orders(platform)[-1].ref
    assert cells[side] == buy
    assert cells[read_back] in ticket, (cells[read_back], ticket)
    approved = chat.log_in(approve, alice).text
    assert approved_text in approved
    spent = client.get(approve, headers={"Accept-Language": "zh-TW,zh;q=0.8,en;q=0.5"})
    assert spent.status_code == 404
    assert "此鏈接無效、已使用或已過期" in spent.text  # OpenCC s2t, as the bot's own replies
    english = client.get(approve)
    assert "This link is invalid, used or expired" in english.text
