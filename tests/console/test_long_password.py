"""Staff whose password is longer than 64 characters log in to the console: every password field
(console login, console step-up, the secure-link page, the held-order approval) accepts what the
password rules allow (`passwords.MAX_LENGTH`, 128), in the form and in the browser."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.identity.passwords import MAX_LENGTH
from tests.channels.webchat.test_page_in_browser import browser  # noqa: F401 - the fixture
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user
from tests.factories.live import served

LONG = 100  # over the old 64, under the rules' 128


def _long_password(length: int = LONG) -> str:
    return secrets.token_urlsafe(length)[:length]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def _password_maxlengths(page: str) -> list[str]:
    return re.findall(r'<input[^>]*type="password"[^>]*maxlength="(\d+)"', page)


@pytest.fixture
def browser_client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform=platform), base_url="https://testserver", follow_redirects=False
    ) as client:
        yield client


def test_a_100_character_password_logs_in_through_the_form(
    platform: Platform, browser_client: TestClient, clock: Clock
) -> None:
    staff = make_user(platform, "lena.long", kind="internal", password=_long_password())
    page = browser_client.get("/console/login")
    assert _password_maxlengths(page.text) == [str(MAX_LENGTH)]
    done = browser_client.post(
        "/console/login",
        data={
            "username": staff.username,
            "password": staff.password,
            "otp": staff.code(clock.now.timestamp()),
            "csrf_token": _csrf(page.text),
        },
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/console/"
    clock.advance(30)
    stepup = browser_client.get("/console/stepup")
    assert _password_maxlengths(stepup.text) == [str(MAX_LENGTH)]
    confirmed = browser_client.post(
        "/console/stepup",
        data={
            "password": staff.password,
            "otp": staff.code(clock.now.timestamp()),
            "csrf_token": _csrf(stepup.text),
        },
    )
    assert confirmed.status_code == 303, confirmed.text


def test_a_password_over_the_rules_maximum_is_still_refused(
    platform: Platform, browser_client: TestClient, clock: Clock
) -> None:
    staff = make_user(platform, "lena.long", kind="internal", password=_long_password())
    page = browser_client.get("/console/login")
    done = browser_client.post(
        "/console/login",
        data={
            "username": staff.username,
            "password": staff.password + "x" * (MAX_LENGTH + 1 - len(staff.password)),
            "otp": staff.code(clock.now.timestamp()),
            "csrf_token": _csrf(page.text),
        },
    )
    assert done.status_code == 422, "longer than any password can be: the edge refuses it"


def test_the_secure_link_page_takes_the_same_maximum(client: TestClient, clock: Clock) -> None:
    link_page = client.get(Chat(client, clock, conversation="conv-long-1").link("login"))
    assert _password_maxlengths(link_page.text) == [str(MAX_LENGTH)]


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    with served(database_url, tmp_path / "var") as found:
        yield found


def test_a_100_character_password_typed_in_chromium(
    browser: Browser,  # noqa: F811 - the fixture
    live: tuple[str, Platform],
) -> None:
    url, platform = live
    staff: TestUser = make_user(platform, "lena.long", kind="internal", password=_long_password())
    page = browser.new_context(base_url=url).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", staff.username)
    typed = page.locator("input[name=password]")
    typed.press_sequentially(staff.password)  # typed key by key: the field's maxlength applies
    assert len(typed.input_value()) == LONG
    page.fill("input[name=otp]", staff.code(time.time()))
    page.click("button[type=submit]")
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=15_000)
