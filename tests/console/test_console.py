"""The console: login with both factors, cookie flags, CSRF on every form, new id at login and
step-up, idle timeout, logout; a cookie session calling the JSON API needs the CSRF header."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import networks
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.sessions import COOKIE, csrf_token
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.audit import entries
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


def _log_in(browser: TestClient, user: TestUser, clock: Clock, **overrides: str) -> object:
    page = browser.get("/console/login")
    form = {
        "username": user.username,
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "csrf_token": _csrf(page.text),
        **overrides,
    }
    response = browser.post("/console/login", data=form)
    clock.advance(30)
    return response


@pytest.fixture
def dana(platform: Platform) -> TestUser:
    user = make_user(platform, "dana", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="compliance", username="dana")
    return user


def test_login_sets_a_host_prefixed_secure_httponly_strict_cookie(
    browser: TestClient, dana: TestUser, clock: Clock
) -> None:
    assert browser.get("/console/").headers["location"] == "/console/login"
    page = browser.get("/console/login")
    assert "Secure" in page.headers["set-cookie"]
    response = _log_in(browser, dana, clock)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for flag in ("HttpOnly", "Path=/", "SameSite=strict", "Secure"):
        assert flag in cookie
    assert "Domain" not in cookie
    home = browser.get("/console/")
    assert home.status_code == 200
    assert "Welcome, dana" in home.text
    assert "audit:export" in home.text
    assert "password + totp" in home.text


def test_login_needs_the_forms_csrf_token_and_both_factors(
    browser: TestClient, platform: Platform, dana: TestUser, clock: Clock
) -> None:
    assert _log_in(browser, dana, clock, csrf_token="0" * 64).status_code == 403
    failed = _log_in(browser, dana, clock, otp="000000")
    assert failed.status_code == 401
    assert COOKIE not in failed.headers.get("set-cookie", "")
    alice = make_user(platform, "alice")
    refused = _log_in(browser, alice, clock)
    assert refused.status_code == 401, "clients never log in to the console"
    assert "Login failed" in refused.text


def test_a_new_login_and_a_step_up_each_give_a_new_session_id(
    browser: TestClient, dana: TestUser, clock: Clock
) -> None:
    _log_in(browser, dana, clock)
    first = browser.cookies[COOKIE]
    _log_in(browser, dana, clock)
    second = browser.cookies[COOKIE]
    assert second != first
    stale = TestClient(browser.app, base_url="https://testserver", follow_redirects=False)
    stale.cookies.set(COOKIE, first)
    assert stale.get("/console/").status_code == 303, "the replaced session is dead"
    form = browser.get("/console/stepup")
    assert form.status_code == 200
    data = {
        "password": dana.password,
        "otp": dana.code(clock.now.timestamp()),
        "csrf_token": _csrf(form.text),
    }
    stepped = browser.post("/console/stepup", data=data)
    assert stepped.status_code == 303, stepped.text
    third = browser.cookies[COOKIE]
    assert third not in (first, second)
    assert browser.get("/console/").status_code == 200
    stale.cookies.set(COOKIE, second)
    assert stale.get("/console/").status_code == 303


def test_logout_needs_csrf_and_ends_the_session(
    browser: TestClient, dana: TestUser, clock: Clock
) -> None:
    _log_in(browser, dana, clock)
    assert browser.post("/console/logout", data={}).status_code == 403
    assert browser.post("/console/logout", data={"csrf_token": "f" * 64}).status_code == 403
    token = browser.cookies[COOKIE]
    out = browser.post("/console/logout", data={"csrf_token": csrf_token(token)})
    assert out.status_code == 303
    again = TestClient(browser.app, base_url="https://testserver", follow_redirects=False)
    again.cookies.set(COOKIE, token)
    assert again.get("/console/").status_code == 303


def test_an_idle_session_ends(
    browser: TestClient, platform: Platform, dana: TestUser, clock: Clock
) -> None:
    _log_in(browser, dana, clock)
    assert browser.get("/console/").status_code == 200
    clock.advance(platform.session_policy.idle.total_seconds() + 1)
    assert browser.get("/console/").headers["location"] == "/console/login"


def test_a_cookie_session_on_the_json_api_needs_the_csrf_header(
    browser: TestClient, platform: Platform, clock: Clock
) -> None:
    root = make_user(platform, "root", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="admin", username="root")
    _log_in(browser, root, clock)
    assert browser.get("/api/v1/admin/roles").status_code == 200, "reads need no CSRF token"
    forged = browser.post("/api/v1/admin/roles", json={"name": "forged"})
    assert forged.status_code == 403
    assert forged.json()["code"] == "csrf_failed"
    headers = {"X-CSRF-Token": csrf_token(browser.cookies[COOKIE])}
    made = browser.post("/api/v1/admin/roles", json={"name": "real"}, headers=headers)
    assert made.status_code == 201


def _office_browser(platform: Platform, peer: str) -> TestClient:
    return TestClient(
        create_app(platform=platform),
        base_url="https://testserver",
        raise_server_exceptions=False,
        follow_redirects=False,
        client=(peer, 40000),
    )


def test_from_a_trusted_network_an_internal_user_logs_in_without_a_code(
    platform: Platform, dana: TestUser, clock: Clock
) -> None:
    with unit_of_work(platform.sessions) as session:
        networks.add(session, cidr="10.20.0.0/16", label="office", actor="test", now=clock.now)
    with _office_browser(platform, "10.20.3.4") as office:
        assert _log_in(office, dana, clock, otp="").status_code == 303
    with _office_browser(platform, "198.51.100.9") as outside:
        assert _log_in(outside, dana, clock, otp="").status_code == 401
    started = entries(platform, "session:started")
    assert [(e["factors"], e["source_ip"]) for e in started] == [
        (["password", "network"], "10.20.3.4")
    ], "the session records the factors actually used, not both by assumption"


def test_one_persons_console_step_up_failures_do_not_lock_anothers(
    platform: Platform, dana: TestUser, clock: Clock
) -> None:
    """The console's step-up authenticates with its channel, the client's address and the
    installation's lockout policy; it used to pass none, so every staff failure counted against
    one shared "unknown" source and a few of them delayed everyone's correct step-up."""
    strict = LockoutPolicy(source_free_failures=3, account_free_failures=10)
    policy = dataclasses.replace(platform.desk.policy, lockout=strict)
    platform = dataclasses.replace(platform, desk=dataclasses.replace(platform.desk, policy=policy))
    erin = make_user(platform, "erin", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.assign(session, actor=access.system_actor(), role="compliance", username="erin")
    with (
        _office_browser(platform, "198.51.100.9") as dana_browser,
        _office_browser(platform, "203.0.113.7") as erin_browser,
    ):
        assert _log_in(dana_browser, dana, clock).status_code == 303
        assert _log_in(erin_browser, erin, clock).status_code == 303
        for _ in range(5):
            form = dana_browser.get("/console/stepup")
            wrong = {
                "password": "not her password",
                "otp": "000000",
                "csrf_token": _csrf(form.text),
            }
            assert dana_browser.post("/console/stepup", data=wrong).status_code == 401
        form = erin_browser.get("/console/stepup")
        right = {
            "password": erin.password,
            "otp": erin.code(clock.now.timestamp()),
            "csrf_token": _csrf(form.text),
        }
        assert erin_browser.post("/console/stepup", data=right).status_code == 303
    failed = [e for e in entries(platform, "authn:failed") if e.get("purpose") == "stepup"]
    assert len(failed) == 5
    assert {(e["channel"], e["source_ip"]) for e in failed} == {("console", "198.51.100.9")}
    assert [e["rule"] for e in failed][-2:] == ["source-delayed"] * 2, "her source is slowed"


def test_a_clients_api_token_opens_no_console_page(
    browser: TestClient, platform: Platform, dana: TestUser
) -> None:
    """The console is for bank staff: a client's bearer token (which every route's `signed_in`
    or `require` would otherwise accept) is refused on every console page, and the refusal is
    in the access log; the same token still works on the client's own API routes."""
    alice = make_user(platform, "alice")
    headers = {"Authorization": f"Bearer {token_for(platform, alice.id)}"}
    for path in ("/console/", "/console/stepup"):
        refused = browser.get(path, headers=headers)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["title"] == "the console is for bank staff only"
    denied = [e for e in entries(platform, "access:denied") if e.get("user_id") == alice.id]
    assert {e["rule"] for e in denied} == {"the console is for bank staff only"}
    assert browser.get("/api/v1/auth/whoami", headers=headers).status_code == 200
    staff = {"Authorization": f"Bearer {token_for(platform, dana.id)}"}
    assert browser.get("/console/", headers=staff).status_code == 200


def test_a_page_the_user_may_not_see_is_a_page_in_a_browser_and_problem_json_elsewhere(
    browser: TestClient, platform: Platform, dana: TestUser, clock: Clock
) -> None:
    """Typed in the address bar (Accept: text/html first), a console page the user holds no
    right for is a readable 403 page naming the right, and an unknown one a 404 page; a script,
    an event stream or an API client still gets problem+json with the same status."""
    _log_in(browser, dana, clock)
    html = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    refused = browser.get("/console/holds", headers=html)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "This page needs the right order:approve" in refused.text
    assert 'href="/console/"' in refused.text
    missing = browser.get("/console/no-such-page", headers=html)
    assert missing.status_code == 404
    assert "<h1>Not found</h1>" in missing.text
    assert browser.get("/console/holds").json()["data"] == {"right": "order:approve"}
    assert browser.get("/console/no-such-page").json()["status"] == 404
    api = browser.get("/api/v1/admin/roles", headers=html)
    assert api.status_code == 403
    assert api.json()["code"] == "forbidden"


def test_a_login_returns_to_the_page_asked_for(
    browser: TestClient, dana: TestUser, clock: Clock
) -> None:
    """A session that ended (idle, absolute) sends a person to log in and back to the page they
    asked for, with its query; never to another site, whatever `next` says."""
    asked = browser.get("/console/search?client=alice&q=hello")
    assert asked.status_code == 303
    where = asked.headers["location"]
    assert where == "/console/login?next=%2Fconsole%2Fsearch%3Fclient%3Dalice%26q%3Dhello"
    page = browser.get(where)
    assert '<input type="hidden" name="next" value="/console/search?client=alice&amp;q=hello">' in (
        page.text
    )
    back = _log_in(browser, dana, clock, next="/console/search?client=alice&q=hello")
    assert back.headers["location"] == "/console/search?client=alice&q=hello"
    for elsewhere in ("https://evil.example/", "//evil.example/console/", "/console/logout",
                      "/console/login", "/api/v1/auth/whoami", "/console/\\evil"):  # fmt: skip
        went = _log_in(browser, dana, clock, next=elsewhere)
        assert went.headers["location"] == "/console/", elsewhere
        assert 'name="next"' not in browser.get(f"/console/login?next={elsewhere}").text
