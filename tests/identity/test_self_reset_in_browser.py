"""A client who forgot her password resets it as she would: in real headless Chromium against a
real server on SQLite and PostgreSQL, she asks in her web chat, opens the link the bot sends,
types her authenticator code, then a new password twice, and logs in with it from the chat."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from dealchat.api.deps import Platform
from tests.channels.webchat.test_page_in_browser import (
    _log_in,
    _say,
    browser,  # noqa: F401 - the fixture
)
from tests.factories.identity import make_user
from tests.factories.live import served

WAIT = 15_000  # ms: a loaded machine
NEW = "a long walk by the harbour at dusk"


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    with served(database_url, tmp_path / "var") as found:
        yield found


def _last_link(page: Page) -> str:
    return str(page.locator("#log li.bot a").last.get_attribute("href"))


def test_she_resets_her_password_from_the_chat_and_logs_in_with_it(
    browser: Browser,  # noqa: F811 - the fixture
    live: tuple[str, Platform],
) -> None:
    url, platform = live
    alice = make_user(platform)
    chat = browser.new_context(base_url=url).new_page()
    chat.goto("/")
    assert "Please log in" in _say(chat, "status")
    # three codes, each used once, each within one step of the server's clock: the previous
    # step, the current one, the next
    assert "logged in" in _log_in(browser, _last_link(chat), alice, time.time() - 30)

    answer = _say(chat, "I forgot my password")
    assert "second factor first" in answer
    reset = browser.new_page()
    reset.goto(_last_link(chat))
    expect(reset.locator("input[name=password]")).to_have_count(0)
    reset.fill("input[name=otp]", alice.code(time.time()))
    reset.click("button[type=submit]")
    typed = reset.locator("input[name=password]")
    expect(typed).to_be_visible(timeout=WAIT)
    typed.fill(NEW)
    reset.fill("input[name=password_again]", NEW)
    reset.click("button[type=submit]")
    expect(reset.locator("main")).to_contain_text("Your password is changed", timeout=WAIT)

    assert "Please log in" in _say(chat, "status"), "her chat session ended with the reset"
    renewed = dataclasses.replace(alice, password=NEW)
    assert "logged in" in _log_in(browser, _last_link(chat), renewed, time.time() + 30)
    assert "no orders" in _say(chat, "status").lower()
