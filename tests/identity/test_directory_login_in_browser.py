"""Directory bind login as a person does it, in real headless Chromium (Debian's, driven by
Playwright) against a real `dealchat serve`-like server (uvicorn) and the test slapd over
StartTLS: a wrong directory password is refused on the page and counted, then the directory
password and our authenticator code open the console. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity.session_models import AuthSession
from tests.channels.webchat.test_page_in_browser import browser  # noqa: F401 - the fixture
from tests.factories.audit import rules
from tests.factories.live import served
from tests.identity.test_directory_login import synced_user, with_bind_login
from tests.ldap.fixture import Slapd

WAIT = 15_000  # ms


@pytest.fixture
def live(database_url: str, tmp_path: Path, slapd: Slapd) -> Iterator[tuple[str, Platform]]:
    def bind_login(platform: Platform) -> Platform:
        return with_bind_login(platform, slapd)

    with served(database_url, tmp_path / "var", changed=bind_login) as found:
        yield found


def test_directory_password_and_our_code_in_chromium(
    browser: Browser,  # noqa: F811 - the fixture
    live: tuple[str, Platform],
    slapd: Slapd,
) -> None:
    url, platform = live
    dlee = synced_user(platform, slapd)
    page = browser.new_context(base_url=url).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", "dlee")
    page.fill("input[name=password]", "not-the-directory-password")
    page.fill("input[name=otp]", dlee.code(time.time()))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("Login failed", timeout=WAIT)
    page.fill("input[name=username]", "dlee")
    page.fill("input[name=password]", dlee.password)
    page.fill("input[name=otp]", dlee.code(time.time()))
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=WAIT)
    assert page.url == f"{url}/console/"
    with unit_of_work(platform.sessions) as session:
        row = session.scalars(select(AuthSession)).one()
        assert (row.user_id, row.factors) == (dlee.id, "password,totp")
    assert rules(platform) == ["wrong-password", "directory-password+totp"]
