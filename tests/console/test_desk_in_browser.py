"""The desk as people use it, in real headless Chromium (Debian's, driven by Playwright): alice in
her web chat and Dan Lee, a dealer, in the console, each in their own browser context, against a
real server on SQLite and PostgreSQL. Nobody reloads: what one does reaches the other live."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.controls.service import PreTrade
from dealchat.conversations import pretrade
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from tests.channels.webchat.test_page_in_browser import browser  # noqa: F401 - the fixture
from tests.conftest import Clock
from tests.controls.rulesets import RATES, ruleset
from tests.factories.chat import Chat
from tests.factories.controls import ticket
from tests.factories.desk import DeskPeople, desk_people
from tests.factories.identity import TestUser
from tests.factories.live import served

CONVERSATION, SENDER = "conv-browser-alice", "sender-browser-alice"
LARGE = {"id": "single", "kind": "limit", "title": "Large order", "max_amount": "5000000"}
WAIT = 10_000  # ms: a generous bound for a loaded machine; bench/desk.py measures the speed


def _with_controls(platform: Platform) -> Platform:
    rates = RATES.model_copy(
        update={
            "rates": tuple(
                r.model_copy(update={"as_of": platform.desk.clock()}) for r in RATES.rates
            )
        }
    )
    desk = dataclasses.replace(platform.desk, pretrade=PreTrade(ruleset(LARGE), rates))
    return dataclasses.replace(platform, desk=desk)


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    with served(database_url, tmp_path / "var", changed=_with_controls) as found:
        yield found


def _alice_page(browser: Browser, url: str) -> Page:  # noqa: F811 - the fixture's name
    context = browser.new_context(base_url=url)
    context.add_init_script(
        f"localStorage.setItem('dealchat.conversation', '{CONVERSATION}');"
        f"localStorage.setItem('dealchat.sender', '{SENDER}');"
    )
    page = context.new_page()
    page.goto("/")
    return page


def _dealer_page(browser: Browser, url: str, dan: TestUser) -> Page:  # noqa: F811
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", dan.username)
    page.fill("input[name=password]", dan.password)
    page.fill("input[name=otp]", dan.code(time.time()))
    page.click("button[type=submit]")
    expect(page.get_by_role("link", name="Conversations")).to_be_visible()
    return page


def _say(page: Page, text: str) -> None:
    page.fill("#text", text)
    page.click("#composer button")


def _held_order(platform: Platform, people: DeskPeople) -> str:
    """alice's large order, held by the controls for a second person."""
    now = platform.desk.clock()
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(
            select(Conversation.id).where(Conversation.external_id == CONVERSATION)
        ).one()
        client = session.get_one(User, people.alice.id)
        order = ticket(
            session, client_id=client.id, quantity="6000000", now=now, conversation_id=conversation
        )
        said = pretrade.place_checked(
            session, desk=platform.desk, order=order, client=client, now=now
        )
        assert "on hold" in said, said
        return order.ref


def _released_in_the_console(dealer: Page, dan: TestUser, ref: str) -> None:
    """Dan approves the hold on the console's held orders page: a step-up with his password and
    a fresh authenticator code (the next time step: his login used the current one)."""
    dealer.get_by_role("link", name="Held orders").click()
    card = dealer.locator(f"section#{ref}")
    card.locator("input[name=comment]").fill("known client, size agreed by phone")
    card.locator("input[name=password]").fill(dan.password)
    card.locator("input[name=otp]").fill(dan.code(time.time() + 30))
    card.get_by_role("button", name=f"Approve {ref}").click()
    expect(dealer.locator("body")).not_to_contain_text("Login failed")


def test_a_dealer_answers_alice_live_and_a_released_hold_reaches_her_page(
    live: tuple[str, Platform],
    browser: Browser,  # noqa: F811
) -> None:
    url, platform = live
    people = desk_people(platform)
    with httpx.Client(base_url=url) as http:  # alice's browser's chat, linked to her account
        Chat(http, Clock(), conversation=CONVERSATION, sender=SENDER).link_and_log_in(people.alice)
    alice = _alice_page(browser, url)
    dealer = _dealer_page(browser, url, people.dan)
    dealer.goto("/console/conversations")
    _say(alice, "hello, is anyone at the desk?")
    row = dealer.locator("tr", has_text="alice")
    expect(row).to_be_visible(timeout=WAIT)  # the list refreshed by itself
    row.get_by_role("link", name="alice").click()
    expect(dealer.locator("#transcript")).to_contain_text("hello, is anyone at the desk?")
    _say(alice, "I need a price on cable later")
    expect(dealer.locator("#transcript")).to_contain_text(
        "I need a price on cable later", timeout=WAIT
    )

    dealer.click("#take-over")
    expect(alice.locator("#log")).to_contain_text(
        "You are now talking with Dan Lee of the FX-LDN desk.", timeout=WAIT
    )
    dealer.fill("textarea[name=text]", "Morning Alice, Dan here. Cable is 1.2710/15 now.")
    dealer.click("#reply button[type=submit]")
    staff_line = alice.locator("#log li.staff")
    expect(staff_line).to_contain_text("Dan Lee", timeout=WAIT)
    expect(staff_line).to_contain_text("Cable is 1.2710/15 now.")
    # her page showed it: Dan's line stops saying "not delivered yet" without a reload
    reply_line = dealer.locator("#transcript li.staff").last
    expect(reply_line).to_contain_text("Cable is 1.2710/15 now.")
    expect(reply_line).not_to_contain_text("not delivered yet", timeout=WAIT)
    _say(alice, "help")
    expect(dealer.locator("#transcript")).to_contain_text("help", timeout=WAIT)

    conversation_page = dealer.url
    ref = _held_order(platform, people)
    _released_in_the_console(dealer, people.dan, ref)
    expect(alice.locator("#log li.bot").last).to_contain_text(f"FILLED {ref}", timeout=WAIT)

    dealer.goto(conversation_page)
    expect(dealer.locator("#transcript")).to_contain_text(f"FILLED {ref}")
    dealer.click("#hand-back")
    expect(alice.locator("#log")).to_contain_text("handed you back", timeout=WAIT)
    _say(alice, "help")
    expect(alice.locator("#log li.bot").last).to_contain_text(
        "I take FX and bond orders", timeout=WAIT
    )
