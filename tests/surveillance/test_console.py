"""The review queue in the console: the list, the alert with its match marked and escaped, and
the reviewer's forms (CSRF-protected) from claim to close."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform=platform)
    with TestClient(
        app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False
    ) as test_client:
        yield test_client


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


def _staff(platform: Platform, name: str, role: str) -> TestUser:
    user = make_user(platform, name, kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role=role, username=name)
    return user


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


def test_a_compliance_officer_reviews_an_alert_in_the_console(
    browser: TestClient, client: TestClient, platform: Platform, clock: Clock
) -> None:
    Chat(client, clock).say("<b>whatsapp me</b> pls")
    dana = _staff(platform, "dana", "compliance")
    _log_in(browser, dana, clock)
    home = browser.get("/console/")
    assert 'href="/console/alerts"' in home.text
    listed = browser.get("/console/alerts")
    assert listed.status_code == 200
    found = re.search(r'href="/console/alerts/([0-9a-f]{32})"', listed.text)
    assert found, listed.text
    path = f"/console/alerts/{found.group(1)}"
    page = browser.get(path)
    assert "<mark>whatsapp me</mark>" in page.text
    assert "&lt;b&gt;" in page.text  # the client's text is escaped, never markup
    assert "<b>whatsapp" not in page.text
    csrf = _csrf(page.text)
    assert browser.post(f"{path}/claim", data={"csrf_token": "0" * 64}).status_code == 403
    assert browser.post(f"{path}/claim", data={"csrf_token": csrf}).status_code == 303
    refused = browser.post(
        f"{path}/close", data={"csrf_token": csrf, "disposition": "no_breach", "comment": " "}
    )
    assert refused.status_code == 400
    assert "a comment is required" in refused.text
    closed = browser.post(
        f"{path}/close",
        data={"csrf_token": csrf, "disposition": "no_breach", "comment": "joke between friends"},
    )
    assert closed.status_code == 303
    after = browser.get(path)
    assert "alert:closed" in after.text
    assert "joke between friends" in after.text
    assert "Claim</button>" not in after.text
    # the history names the reviewer, not the log's opaque id; times to the second, in UTC
    assert "<td>dana</td>" in after.text
    assert f"user:{dana.id}" not in after.text
    assert re.search(r"raised \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", after.text), after.text


def test_the_alert_pages_need_alert_read(
    browser: TestClient, client: TestClient, platform: Platform, clock: Clock
) -> None:
    dealer = _staff(platform, "dave", "dealer")
    _log_in(browser, dealer, clock)
    assert 'href="/console/alerts"' not in browser.get("/console/").text
    assert browser.get("/console/alerts").status_code == 403


def test_an_alert_names_the_client_and_links_the_conversation(
    browser: TestClient, client: TestClient, platform: Platform, clock: Clock
) -> None:
    """The officer sees whose words raised an alert, in the list and on the alert, and opens the
    whole conversation from it."""
    chat = Chat(client, clock)
    chat.link_and_log_in(make_user(platform, "alice"))
    chat.say("add me on whatsapp")
    dana = _staff(platform, "dana", "compliance")
    _log_in(browser, dana, clock)
    listed = browser.get("/console/alerts")
    assert "<td>alice</td><td>message</td>" in listed.text
    found = re.search(r'href="/console/alerts/([0-9a-f]{32})"', listed.text)
    assert found, listed.text
    page = browser.get(f"/console/alerts/{found.group(1)}")
    link = re.search(r'About alice · <a href="/console/conversations/([0-9a-f]{32})"', page.text)
    assert link, page.text
    assert browser.get(f"/console/conversations/{link.group(1)}").status_code == 200
