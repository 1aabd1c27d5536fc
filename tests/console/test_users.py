"""The users pages' forms: CSRF-checked, and a change needs a login at most 15 minutes old (a
stale one is sent to *Confirm it is you*, and nothing changes)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.api.admin_views import FRESH
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import management
from tests.conftest import Clock
from tests.factories.identity import TestUser, make_user


@pytest.fixture
def browser_client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform=platform), base_url="https://testserver", follow_redirects=False
    ) as client:
        yield client


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def _logged_in(client: TestClient, user: TestUser, clock: Clock) -> None:
    form = client.get("/console/login")
    done = client.post(
        "/console/login",
        data={
            "username": user.username,
            "password": user.password,
            "otp": user.code(clock.now.timestamp()),
            "csrf_token": _csrf(form.text),
        },
    )
    assert done.status_code == 303, done.text


def test_forms_need_the_csrf_token_and_a_fresh_login(
    platform: Platform, browser_client: TestClient, clock: Clock
) -> None:
    ada = make_user(platform, "ada", kind="internal")
    make_user(platform, "carl", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="admin", username="ada")
    _logged_in(browser_client, ada, clock)
    page = browser_client.get("/console/users/carl")
    assert page.status_code == 200
    told = browser_client.get("/console/users/carl?done=Call+us+at+555&role=x%20y")
    assert "Call us" not in told.text, "the page says only its own words"
    assert "Role ? assigned" in browser_client.get("/console/users/carl?done=assigned&role=A!").text
    forged = browser_client.post("/console/users/carl/unlock", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    clock.advance(FRESH - 300)
    page = browser_client.get("/console/users/carl")  # active: the session lives on (idle limit)
    clock.advance(301)
    stale = browser_client.post(
        "/console/users/carl/end-sessions", data={"csrf_token": _csrf(page.text)}
    )
    assert stale.status_code == 303
    assert stale.headers["location"] == "/console/stepup"
    assert browser_client.get("/console/users").status_code == 200, "reading needs no step-up"
    with unit_of_work(platform.sessions) as session:
        assert management.user_row(session, "carl").roles == []
