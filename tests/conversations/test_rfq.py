"""Dealer-priced requests (RFQ) through the web chat and the console, on SQLite and PostgreSQL:
a big size goes to a dealer, who prices it in the console; the client takes it with mine and gets
the usual ticket and step-up. A decline, a request nobody priced in time and a lapsed price are
answered plainly; only quote:price holders see the page or act; every step is audited."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.outbox import OutboxItem
from dealchat.cli.demo_access import seed_access
from dealchat.controls.service import shipped_text
from dealchat.conversations import reporting
from dealchat.conversations import rfq as chat_rfq
from dealchat.conversations.bodies import text_of
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.pricing.dealer import DealerPolicy
from dealchat.pricing.rfq_models import Rfq
from dealchat.records.service import verify
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.factories.access import give_role
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user

RFQ_EVENTS = ("rfq:requested", "rfq:priced", "rfq:declined", "rfq:expired", "rfq:taken")


@pytest.fixture
def chat(client: TestClient, platform: Platform, clock: Clock) -> tuple[Chat, TestUser]:
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    return chat, alice


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform=platform),
        base_url="https://testserver",
        raise_server_exceptions=False,
        follow_redirects=False,
    ) as test_client:
        yield test_client


def _staff(platform: Platform, username: str, role: str) -> TestUser:
    user = make_user(platform, username, kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role=role, username=username)
    return user


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def _log_in(browser: TestClient, user: TestUser, clock: Clock) -> None:
    page = browser.get("/console/login")
    form = {
        "username": user.username,
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "csrf_token": _csrf(page.text),
    }
    assert browser.post("/console/login", data=form).status_code == 303
    clock.advance(30)


def _rfq(platform: Platform, ref: str) -> Rfq:
    with unit_of_work(platform.sessions) as session:
        found = session.scalar(select(Rfq).where(Rfq.ref == ref))
        assert found is not None
        session.expunge(found)
        return found


def _bot_said(platform: Platform) -> list[tuple[str, bool]]:
    """Every bot message of the chat, oldest first, and whether it answered no inbound message
    (sent later through the outbox, as a dealer's price is)."""
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(
            select(Message).where(Message.direction == "out").order_by(Message.created_at)
        ).all()
        return [(text_of(session, platform.desk, row), row.reply_to_id is None) for row in rows]


def _later(platform: Platform) -> list[str]:
    return [text for text, later in _bot_said(platform) if later]


def _price(browser: TestClient, ref: str, **form: str) -> Any:
    page = browser.get(f"/console/rfqs/{ref}")
    assert page.status_code == 200, page.text
    action = re.search(r'action="(/console/rfqs/[^"]+/price)"', page.text)
    assert action, page.text
    return browser.post(action.group(1), data={"csrf_token": _csrf(page.text), **form})


def _post(browser: TestClient, platform: Platform, ref: str, action: str, **form: str) -> Any:
    """Straight to the form's address (a page that no longer offers the form, a stale tab)."""
    csrf = _csrf(browser.get("/console/rfqs").text)
    url = f"/console/rfqs/{_rfq(platform, ref).id}/{action}"
    return browser.post(url, data={"csrf_token": csrf, **form})


def _decline(browser: TestClient, ref: str, reason: str) -> Any:
    page = browser.get(f"/console/rfqs/{ref}")
    action = re.search(r'action="(/console/rfqs/[^"]+/decline)"', page.text)
    assert action, page.text
    return browser.post(action.group(1), data={"csrf_token": _csrf(page.text), "reason": reason})


def test_a_big_size_is_priced_by_a_dealer_and_taken_with_mine(
    platform: Platform, clock: Clock
) -> None:
    """Above 5,000,000 here, so that the 10,000,000 taken stays under the shipped client hourly
    limit (15,000,000, a hold) and fills at once."""
    desk = dataclasses.replace(platform.desk, dealer=DealerPolicy(above=Decimal(5_000_000)))
    platform = dataclasses.replace(platform, desk=desk)
    with (
        TestClient(create_app(platform=platform)) as client,
        TestClient(
            create_app(platform=platform), base_url="https://testserver", follow_redirects=False
        ) as browser,
    ):
        _priced_and_taken(platform, client, browser, clock)


def test_the_shipped_threshold_leaves_a_size_the_shipped_controls_let_fill(
    chat: tuple[Chat, TestUser], platform: Platform
) -> None:
    """A dealer prices what the bot may not, and what he prices must be able to fill: the shipped
    threshold sits under the shipped client hourly hold and single-order reject limits."""
    talk, _ = chat
    assert talk.text("mkt eurusd 10m").startswith("EUR/USD 10,000,000 EUR SPOT: 1.08")
    assert talk.text("mkt eurusd 12m").startswith("A dealer is pricing this (RFQ-1)")
    shipped = yaml.safe_load(shipped_text("default.yaml"))
    limits = {rule["id"]: Decimal(rule["max_amount"]) for rule in shipped["rules"]
              if rule["kind"] == "limit"}  # fmt: skip
    threshold = platform.settings.pricing.dealer_above
    assert threshold < limits["client-hour"] < limits["single-global"]


def _priced_and_taken(
    platform: Platform, client: TestClient, browser: TestClient, clock: Clock
) -> None:
    alice = make_user(platform)
    talk = Chat(client, clock)
    talk.link_and_log_in(alice)
    asked = talk.text("mkt eurusd 10m")
    assert asked.startswith(
        "A dealer is pricing this (RFQ-1): EUR/USD 10,000,000 EUR SPOT. I will send the price here"
    ), asked
    assert talk.text("mine").startswith("RFQ-1 is still with a dealer")
    assert talk.text("mkt eurusd 1m").startswith("EUR/USD 1,000,000 EUR SPOT: 1.08")  # the bot's
    talk.text("mkt eurusd 10m")  # a new request replaces the open one

    dana = _staff(platform, "dana", "dealer")
    _log_in(browser, dana, clock)
    home = browser.get("/console/")
    assert 'href="/console/rfqs"' in home.text
    listing = browser.get("/console/rfqs")
    assert listing.status_code == 200
    assert '<meta http-equiv="refresh"' in listing.text
    assert "RFQ-2" in listing.text
    assert "alice (webchat)" in listing.text
    assert "size above the bot" in listing.text
    assert "replaced by a newer request" in listing.text  # RFQ-1, recently closed

    done = _price(browser, "RFQ-2", bid="1.0846", ask="1.0853", validity="120")
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/rfqs"
    price = _later(platform)[-1]
    assert price.startswith("RFQ-2 EUR/USD 10,000,000 EUR SPOT: 1.0846 / 1.0853 from our dealer")
    assert price.endswith("Reply mine to buy at 1.0853 or yours to sell at 1.0846.")
    with unit_of_work(
        platform.sessions
    ) as session:  # on its way to her chat like any later message
        assert session.scalar(select(OutboxItem).order_by(OutboxItem.created_at.desc()))
    again = _post(browser, platform, "RFQ-2", "price", ask="1.09", bid="1.08", validity="60")
    assert again.status_code == 409
    assert "RFQ-2 is priced, not waiting for a price" in again.text

    clock.advance(20)
    ticket = talk.text("mine")
    assert ticket.startswith("TO CONFIRM: YOU BUY 10,000,000 EUR vs USD SPOT limit 1.0853"), ticket
    assert _rfq(platform, "RFQ-2").state == "taken"
    step_up = talk.link("c")
    assert talk.log_in(step_up, alice).status_code == 200
    clock.advance(30)
    placed = talk.text("c")
    taken = _rfq(platform, "RFQ-2")
    with unit_of_work(platform.sessions) as session:
        order = session.scalars(select(Order)).one()
        assert order.limit_price is not None
        assert str(order.limit_price.normalize()) == "1.0853"
        assert order.quote_id == taken.quote_id
        assert verify(session).ok
    assert placed.startswith(f"FILLED {order.ref}: YOU BOUGHT 10,000,000 EUR vs USD"), placed
    assert order.state == "filled"
    assert order.fill_price == Decimal("1.08511")

    found = entries(platform, *RFQ_EVENTS)
    assert [(e["event"], e["ref"]) for e in found] == [
        ("rfq:requested", "RFQ-1"),
        ("rfq:expired", "RFQ-1"),
        ("rfq:requested", "RFQ-2"),
        ("rfq:priced", "RFQ-2"),
        ("rfq:taken", "RFQ-2"),
    ]
    assert found[1]["reason"] == "replaced by a newer request"
    assert found[2]["reason"] == "size"
    assert found[2]["quantity"] == "10000000"
    assert found[3]["actor"] == f"user:{dana.id}"
    assert (found[3]["bid"], found[3]["ask"], found[3]["validity_seconds"]) == (
        "1.0846",
        "1.0853",
        120,
    )
    assert found[4]["order"] == order.id


def test_a_dealer_declines_and_a_pair_without_a_price_source_goes_to_a_dealer(
    chat: tuple[Chat, TestUser], browser: TestClient, platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    assert talk.text("mkt usdbrl 1m").startswith("A dealer is pricing this (RFQ-1): USD/BRL")
    dana = _staff(platform, "dana", "dealer")
    _log_in(browser, dana, clock)
    assert _decline(browser, "RFQ-1", "").status_code == 400  # a reason is needed
    assert _decline(browser, "RFQ-1", "no BRL liquidity today").status_code == 303
    assert _later(platform)[-1] == (
        "RFQ-1: our dealer declined to price USD/BRL 1,000,000 USD SPOT: no BRL liquidity today. "
        "Nothing was traded."
    )
    with unit_of_work(platform.sessions) as session:  # the dealer's own words: surveilled as hers
        declined_by = session.scalars(
            select(Message.author_id).order_by(Message.seq.desc())
        ).first()
    assert declined_by == dana.id
    assert talk.text("mine").startswith("RFQ-1: our dealer declined")
    late = _post(browser, platform, "RFQ-1", "price", bid="5", ask="6", validity="60")
    assert late.status_code == 409
    with unit_of_work(platform.sessions) as session:  # her audit report holds her request
        report = reporting.build(session, platform.desk, start=None, end=None, client="alice")
    assert {"rfq:requested", "rfq:declined"} <= {row.event for row in report.rows}
    (declined,) = entries(platform, "rfq:declined")
    assert declined["reason"] == "no BRL liquidity today"
    assert declined["state"] == "declined"


def test_nobody_prices_in_time_and_a_price_lapses(
    chat: tuple[Chat, TestUser], browser: TestClient, platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    asked = talk.text("quote XS2462605671 2mm")
    assert asked.startswith("A dealer is pricing this (RFQ-1): XS2462605671 2,000,000")
    _log_in(browser, _staff(platform, "dana", "dealer"), clock)  # 30 s pass
    clock.advance(platform.desk.rfq_wait.total_seconds())
    assert "No open requests." in browser.get("/console/rfqs").text  # swept on read
    assert _later(platform)[-1] == (
        "RFQ-1: no dealer priced XS2462605671 2,000,000 in time, so there is no price to take. "
        "Ask again, or call your dealer."
    )
    assert _rfq(platform, "RFQ-1").state == "expired"

    talk.text("where can I buy 60m eurusd")  # one-sided: the dealer gives only the ask
    page = browser.get("/console/rfqs/RFQ-2")
    assert 'name="ask"' in page.text
    assert 'name="bid"' not in page.text
    bad_forms = [
        {"ask": "0"},
        {"ask": "-1"},
        {"ask": "abc"},
        {"ask": "1.08", "validity": "4"},
        {"ask": "1.08", "validity": "3601"},
        {"ask": "1.08", "validity": "1e3"},
    ]
    for bad in bad_forms:
        refused = _price(browser, "RFQ-2", **{"validity": "60", **bad})
        assert refused.status_code == 400, (bad, refused.text)
        assert 'role="alert"' in refused.text
    assert _rfq(platform, "RFQ-2").state == "requested"
    assert _price(browser, "RFQ-2", ask="1.0860", validity="5").status_code == 303
    assert _later(platform)[-1].endswith("Reply mine to buy at 1.086.")
    only = "Our dealer priced RFQ-2 for you to buy only. Ask for a new price to sell."
    assert talk.text("yours") == only
    clock.advance(6)
    assert talk.text("mine").startswith(
        "RFQ-2: our dealer's price for EUR/USD 60,000,000 EUR SPOT expired at"
    )
    talk.text("where can I buy 60m eurusd")
    _price(browser, "RFQ-3", ask="1.0861", validity="5")
    clock.advance(6)
    assert chat_rfq.sweep_all(platform.sessions, platform.desk) == 1  # what `dealchat serve` runs
    assert "RFQ-3: our dealer's price" in _later(platform)[-1]
    expired = entries(platform, "rfq:expired")
    assert [(e["ref"], e["was"], e["reason"]) for e in expired] == [
        ("RFQ-1", "requested", "not priced in time"),
        ("RFQ-2", "priced", "price expired"),
        ("RFQ-3", "priced", "price expired"),
    ]


def test_without_quote_price_the_page_and_the_forms_are_refused(
    chat: tuple[Chat, TestUser], browser: TestClient, platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    talk.text("mkt eurusd 100m")
    rfq = _rfq(platform, "RFQ-1")
    _log_in(browser, _staff(platform, "carol", "compliance"), clock)
    csrf = _csrf(browser.get("/console/").text)
    assert 'href="/console/rfqs"' not in browser.get("/console/").text
    assert browser.get("/console/rfqs").status_code == 403
    assert browser.get("/console/rfqs/RFQ-1").status_code == 403
    form = {"csrf_token": csrf, "bid": "1.08", "ask": "1.09", "validity": "60"}
    assert browser.post(f"/console/rfqs/{rfq.id}/price", data=form).status_code == 403
    decline = {"csrf_token": csrf, "reason": "no"}
    assert browser.post(f"/console/rfqs/{rfq.id}/decline", data=decline).status_code == 403
    assert _rfq(platform, "RFQ-1").state == "requested"
    denied = entries(platform, "access:denied")
    assert sum(1 for e in denied if e.get("right") == "quote:price") >= 4


def test_a_request_in_chinese_is_answered_in_chinese_later_too(
    chat: tuple[Chat, TestUser], browser: TestClient, platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    asked = talk.text("欧元美元 1亿 报价")
    assert asked.startswith("交易员正在为此报价（RFQ-1）：EUR/USD 100,000,000 EUR SPOT。"), asked
    _log_in(browser, _staff(platform, "dana", "dealer"), clock)
    assert _price(browser, "RFQ-1", bid="1.0846", ask="1.0853", validity="60").status_code == 303
    assert _later(platform)[-1].startswith(
        "RFQ-1 EUR/USD 100,000,000 EUR SPOT：交易员报价 买价 1.0846"
    )


def test_the_serve_sweeper_expires_an_unpriced_request_and_tells_the_client(
    chat: tuple[Chat, TestUser], platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    talk.text("mkt usdbrl 1m")
    clock.advance(platform.desk.rfq_wait.total_seconds() + 1)
    woken = threading.Event()
    sweeper = chat_rfq.Sweeper(
        platform.sessions, platform.desk, interval=0.05, on_swept=woken.set
    ).start()
    try:
        assert woken.wait(10)
    finally:
        sweeper.stop()
    assert _rfq(platform, "RFQ-1").state == "expired"
    assert _later(platform)[-1].startswith("RFQ-1: no dealer priced USD/BRL 1,000,000 USD SPOT")


def test_the_demo_dealer_prices_requests(platform: Platform, clock: Clock) -> None:
    """The demo's role seeding (cli.demo_access) gives its dealer quote:price."""
    dealer = make_user(platform, "dealer", kind="internal")
    seed_access(platform, {})
    with TestClient(
        create_app(platform=platform), base_url="https://testserver", follow_redirects=False
    ) as browser:
        _log_in(browser, dealer, clock)
        page = browser.get("/console/rfqs")
    assert page.status_code == 200
    assert "Requests for quote" in page.text


def test_a_desk_limited_pricer_sees_and_prices_only_her_desks_clients(
    chat: tuple[Chat, TestUser], browser: TestClient, platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    talk.text("mkt eurusd 100m")
    lena = make_user(platform, "lena", kind="internal")
    give_role(platform, "lena", "ldn-pricer", [Right.QUOTE_PRICE], {"desk": ["FX-LDN"]})
    _log_in(browser, lena, clock)
    listing = browser.get("/console/rfqs")
    assert listing.status_code == 200
    assert "RFQ-1" not in listing.text  # alice is on no desk yet
    assert browser.get("/console/rfqs/RFQ-1").status_code == 403
    refused = _post(browser, platform, "RFQ-1", "price", bid="1.08", ask="1.09", validity="60")
    assert refused.status_code == 403
    with unit_of_work(platform.sessions) as session:
        access.set_attributes(
            session, actor=access.system_actor(), username="alice", attributes={"desk": "FX-LDN"}
        )
    assert "RFQ-1" in browser.get("/console/rfqs").text
    assert _price(browser, "RFQ-1", bid="1.0846", ask="1.0853", validity="60").status_code == 303
    assert _rfq(platform, "RFQ-1").state == "priced"


def test_a_decline_reason_is_surveilled_as_the_dealers_words(
    chat: tuple[Chat, TestUser], browser: TestClient, platform: Platform, clock: Clock
) -> None:
    talk, _ = chat
    talk.text("mkt usdbrl 1m")
    _log_in(browser, _staff(platform, "dana", "dealer"), clock)
    assert _decline(browser, "RFQ-1", "加我微信聊, I price it there").status_code == 303
    with unit_of_work(platform.sessions) as session:
        sent = session.scalars(select(Message).order_by(Message.seq.desc())).first()
        assert sent is not None
        alerts = session.scalars(select(Alert).where(Alert.subject == f"message:{sent.id}")).all()
        assert [alert.category for alert in alerts] == ["off_channel"]
