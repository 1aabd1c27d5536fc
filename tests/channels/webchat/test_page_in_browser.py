"""The web chat page as a person uses it: real headless Chromium (Debian's), driven by Playwright.

The server runs for real (uvicorn on a loopback port). Under CI=true a missing Chromium fails.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from dealchat.api.deps import Platform
from tests.factories.identity import TestUser, make_user
from tests.factories.live import served

CHROMIUM = os.environ.get("DEALCHAT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    with served(f"sqlite:///{tmp_path / 'dealchat.db'}", tmp_path / "var") as found:
        yield found


@pytest.fixture
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (make browser installs Debian's)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _say(page: Page, text: str) -> str:
    replies = page.locator("#log li.bot")
    before = replies.count()
    page.fill("#text", text)
    page.press("#text", "Enter")
    replies.nth(before).wait_for(timeout=10_000)
    return replies.nth(before).inner_text()


def _log_in(browser: Browser, href: str, user: TestUser, at: float) -> str:
    page = browser.new_page()
    page.goto(href)
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.password)
    page.fill("input[name=otp]", user.code(at))
    page.click("button[type=submit]")
    answer = page.locator("main p").last.inner_text()
    page.close()
    return answer


def test_a_client_trades_from_the_web_chat_page(
    live: tuple[str, Platform], browser: Browser
) -> None:
    url, platform = live
    alice = make_user(platform)
    page = browser.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(url + "/")
    assert "never asks for your password" in page.inner_text("header")
    page.wait_for_load_state("networkidle")
    assert not [u for u in asked if "/webchat/history" in u]  # a first visit has none to ask for

    assert "Please log in" in _say(page, "mkt eurusd 1m")
    link = page.locator("#log li.bot").last.locator("a")  # waits: the POST's answer brings it
    assert link.inner_text() == "Open the bank's secure page"
    assert "logged in" in _log_in(browser, str(link.get_attribute("href")), alice, time.time())

    assert _say(page, "mkt eurusd 1m").startswith("EUR/USD 1,000,000 EUR SPOT: 1.08489 / 1.08511")
    assert _say(page, "buy 1m eurusd").startswith("TO CONFIRM: YOU BUY 1,000,000 EUR vs USD SPOT")
    assert "approve it" in _say(page, "c")
    approve = str(page.locator("#log li.bot").last.locator("a").get_attribute("href"))
    assert "Approved" in _log_in(browser, approve, alice, time.time() + 30)
    assert _say(page, "c").startswith("FILLED ORD-")
    assert page.locator("#log li.me").count() == 5
