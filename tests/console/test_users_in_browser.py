"""The users pages as two administrators use them, in real headless Chromium against a real
server on SQLite and PostgreSQL: ada creates a user with a role (who enrols behind her
link and logs in), tries to take away her own last
admin role and reads the refusal, makes bea a second administrator and asks for a factor reset
she cannot approve herself; bea approves it in her own browser."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from tests.channels.webchat.test_page_in_browser import browser  # noqa: F401 - the fixture
from tests.factories.identity import TestUser, make_user
from tests.factories.live import served

WAIT = 15_000  # ms: a loaded machine


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Platform]]:
    with served(database_url, tmp_path / "var") as found:
        yield found


def _admins(platform: Platform, *names: str) -> list[TestUser]:
    made = [make_user(platform, name, kind="internal") for name in names]
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        for name in names:
            access.assign(session, actor=access.system_actor(), role="admin", username=name)
    return made


def console(
    browser: Browser,  # noqa: F811 - the fixture
    url: str,
    user: TestUser,
    at: float | None = None,
) -> Page:
    """`user` logged in to the console in a browser context of their own."""
    page = browser.new_context(base_url=url).new_page()
    page.goto("/console/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", user.password)
    page.fill("input[name=otp]", user.code(time.time() if at is None else at))
    page.click("button[type=submit]")
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=WAIT)
    return page


def enrol_as_nina(browser: Browser, url: str, link: str) -> None:  # noqa: F811 - the fixture
    """Nina opens her link, chooses a password, enrols her authenticator, logs in."""
    page = browser.new_context(base_url=url).new_page()
    page.goto(link)
    secret = page.locator("figcaption code").inner_text()
    chosen = "a sunny deck above the bay"
    page.fill("input[name=password]", chosen)
    page.fill("input[name=password_again]", chosen)
    page.fill("input[name=otp]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    expect(page.locator("main")).to_contain_text("authenticator is enrolled", timeout=WAIT)
    nina = TestUser("nina", chosen, secret, "")
    console_page = console(browser, url, nina, at=time.time() + 30)
    expect(console_page.get_by_role("link", name="Conversations")).to_be_visible()


def _alert(page: Page) -> str:
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible(timeout=WAIT)
    return alert.inner_text()


def test_two_administrators_manage_users_in_chromium(
    browser: Browser,  # noqa: F811 - the fixture
    live: tuple[str, Platform],
) -> None:
    url, platform = live
    (ada,) = _admins(platform, "ada")
    bea = make_user(platform, "bea", kind="internal")
    carl = make_user(platform, "carl", kind="internal")
    page = console(browser, url, ada)
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible(timeout=WAIT)

    page.fill("input[name=username]", "nina")
    page.fill("input[name=display_name]", "Nina Ng")
    page.select_option("select[name=kind]", "internal")
    page.select_option("select[name=role]", "dealer")
    page.get_by_role("button", name="Create user").click()
    link = page.locator("#enrolment-link")
    expect(link).to_contain_text("/enrol/", timeout=WAIT)
    row = page.get_by_role("row").filter(has_text="nina")
    expect(row).to_contain_text("dealer")
    expect(row).to_contain_text("none yet")

    enrol_as_nina(browser, url, str(link.inner_text()))

    page.get_by_role("link", name="nina").click()
    page.select_option("select[name=role]", "compliance")
    page.get_by_role("button", name="Assign role").click()
    expect(page.get_by_role("alert")).to_contain_text("Role compliance assigned", timeout=WAIT)
    expect(page.get_by_role("listitem").filter(has_text="compliance")).to_be_visible()

    page.goto("/console/users/ada")
    page.get_by_role("button", name="Remove admin").click()
    assert "would leave no administrator" in _alert(page)
    page.goto("/console/users")
    expect(page.get_by_role("row").filter(has_text="Nina Ng")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("row").filter(has_text="ada")).to_contain_text("admin")

    page.goto("/console/users/bea")  # a second administrator, who is needed for the reset
    page.select_option("select[name=role]", "admin")
    page.get_by_role("button", name="Assign role").click()
    expect(page.get_by_role("alert")).to_contain_text("Role admin assigned", timeout=WAIT)

    page.goto("/console/users/carl")
    page.select_option("select[name=factor]", "totp")
    page.fill("input[name=reason]", "lost his phone")
    page.get_by_role("button", name="Request factor reset").click()
    expect(page.get_by_role("alert")).to_contain_text("second administrator", timeout=WAIT)
    expect(page.get_by_text("waiting for a second administrator")).to_be_visible()
    expect(page.get_by_role("button", name="Approve reset")).to_have_count(0)

    second = console(browser, url, bea)
    second.get_by_role("link", name="Users").click()
    expect(second.get_by_text("lost his phone")).to_be_visible(timeout=WAIT)
    second.get_by_role("button", name="Approve reset").click()
    expect(second.get_by_role("alert")).to_contain_text("Reset approved", timeout=WAIT)
    expect(second.get_by_text("password", exact=True)).to_be_visible()
    second.get_by_role("button", name="New enrolment link").click()
    expect(second.locator("#enrolment-link")).to_contain_text("/enrol/", timeout=WAIT)
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == carl.username)).one()
        assert user.totp_secret_sealed is None


def test_the_users_link_is_only_for_user_managers(
    browser: Browser,  # noqa: F811 - the fixture
    live: tuple[str, Platform],
) -> None:
    url, platform = live
    _admins(platform, "ada")
    dora = make_user(platform, "dora", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.assign(session, actor=access.system_actor(), role="dealer", username="dora")
    page = console(browser, url, dora)
    expect(page.get_by_role("link", name="Conversations")).to_be_visible()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    answer = page.goto("/console/users")
    assert answer is not None
    assert answer.status == 403
