"""The four-eyes queue and rule versions over HTTP: require(...), level-2 proofs, separation."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.controls.service import PreTrade
from dealchat.conversations import pretrade
from dealchat.db.session import unit_of_work
from dealchat.identity import sessions
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from tests.conftest import Clock
from tests.controls.rulesets import RATES, ruleset
from tests.factories.access import give_role, token_for
from tests.factories.controls import client, ticket
from tests.factories.identity import TestUser, make_user

RULES = (
    {"id": "big", "kind": "limit", "title": "Large order", "max_amount": "5000000"},
    {"id": "day", "kind": "limit", "scope": "client", "window": "day", "max_amount": "1e9"},
)


@pytest.fixture
def desk_platform(platform: Platform) -> Platform:
    rates = RATES.model_copy(
        update={
            "rates": tuple(
                r.model_copy(update={"as_of": platform.desk.clock()}) for r in RATES.rates
            )
        }
    )
    desk = dataclasses.replace(platform.desk, pretrade=PreTrade(ruleset(*RULES), rates))
    return dataclasses.replace(platform, desk=desk)


@pytest.fixture
def api(desk_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=desk_platform), raise_server_exceptions=False) as http:
        yield http


def _held(platform: Platform) -> tuple[str, str]:
    alice = client(platform, "alice")
    now = platform.desk.clock()
    with unit_of_work(platform.sessions) as session:
        order = ticket(session, client_id=alice, quantity="6000000", now=now)
        user = session.get(User, alice)
        assert user is not None
        pretrade.place_checked(session, desk=platform.desk, order=order, client=user, now=now)
        return order.ref, order.ticket_hash


def _staff(platform: Platform, name: str, *rights: Right) -> tuple[TestUser, dict[str, str]]:
    user = make_user(platform, name, kind="internal")
    give_role(platform, name, f"role-{name}", rights)
    return user, {"Authorization": f"Bearer {token_for(platform, user.id)}"}


def _proof(
    api: TestClient, user: TestUser, auth: dict[str, str], clock: Clock, content: str
) -> dict[str, str]:
    body = {
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "content_hash": content,
    }
    response = api.post("/api/v1/auth/stepup", json=body, headers=auth)
    assert response.status_code == 200, response.text
    clock.advance(30)
    return {**auth, "DealChat-StepUp": response.json()["proof"]}


def test_the_queue_needs_order_approve_and_release_needs_a_proof_for_that_order(
    api: TestClient, desk_platform: Platform, clock: Clock
) -> None:
    ref, ticket_hash = _held(desk_platform)
    _nobody, plain = _staff(desk_platform, "mallory")
    assert api.get("/api/v1/holds", headers=plain).status_code == 403
    carol, auth = _staff(desk_platform, "carol", Right.ORDER_APPROVE)
    listed = api.get("/api/v1/holds", headers=auth).json()["holds"]
    assert [(h["ref"], h["state"], h["required"]) for h in listed] == [(ref, "open", 1)]
    (fired,) = listed[0]["decision"]["fired"]
    assert fired["values"]["order"] == "6600000.00"
    assert "Large order" in listed[0]["decision"]["explanation"]

    bare = api.post(f"/api/v1/holds/{ref}/approve", json={"comment": "ok"}, headers=auth)
    assert bare.status_code == 401
    assert 'acr_values="urn:dealchat:level:2"' in bare.headers["www-authenticate"]
    wrong = _proof(api, carol, auth, clock, "f" * 64)
    assert api.post(f"/api/v1/holds/{ref}/approve", json={}, headers=wrong).status_code == 401
    proved = _proof(api, carol, auth, clock, ticket_hash)
    done = api.post(f"/api/v1/holds/{ref}/approve", json={"comment": "known"}, headers=proved)
    assert done.status_code == 200, done.text
    assert done.json() == {"ref": ref, "state": "filled"}


def test_abort_over_http(api: TestClient, desk_platform: Platform) -> None:
    ref, _ = _held(desk_platform)
    _carol, auth = _staff(desk_platform, "carol", Right.ORDER_APPROVE)
    assert api.post(f"/api/v1/holds/{ref}/abort", json={}, headers=auth).status_code == 422
    stopped = api.post(f"/api/v1/holds/{ref}/abort", json={"reason": "no"}, headers=auth)
    assert stopped.json() == {"ref": ref, "state": "aborted"}
    assert (
        api.post("/api/v1/holds/ORD-NOTHERE/abort", json={"reason": "x"}, headers=auth).status_code
        == 404
    )


def test_rule_versions_over_http_need_a_second_person_with_a_proof_for_that_version(
    api: TestClient, desk_platform: Platform, clock: Clock
) -> None:
    carol, carol_auth = _staff(desk_platform, "carol", Right.RULE_EDIT, Right.RULE_APPROVE)
    dave, dave_auth = _staff(desk_platform, "dave", Right.RULE_EDIT, Right.RULE_APPROVE)
    active = api.get("/api/v1/rules", headers=carol_auth).json()["active"]
    active["rules"][0]["max_amount"] = "7000000"
    text = yaml.safe_dump(active)
    bad = api.post(
        "/api/v1/rules/versions", json={"yaml": "rules: [{kind: nope}]"}, headers=carol_auth
    )
    assert bad.status_code == 400
    assert "invalid rule set" in bad.json()["title"]
    proposed = api.post(
        "/api/v1/rules/versions", json={"yaml": text, "comment": "raise"}, headers=carol_auth
    )
    assert proposed.status_code == 201, proposed.text
    version = proposed.json()
    assert version["state"] == "proposed"
    backtested = api.post(
        "/api/v1/rules/backtest", json={"version_id": version["id"]}, headers=carol_auth
    )
    assert backtested.json()["version"] == version["version"]

    own = _proof(api, carol, carol_auth, clock, version["sha256"])
    refused = api.post(f"/api/v1/rules/versions/{version['id']}/approve", headers=own)
    assert refused.status_code == 403
    assert "second person" in refused.json()["title"]
    proved = _proof(api, dave, dave_auth, clock, version["sha256"])
    approved = api.post(f"/api/v1/rules/versions/{version['id']}/approve", headers=proved)
    assert approved.json()["state"] == "active"
    now_active = api.get("/api/v1/rules", headers=dave_auth).json()["active"]
    assert now_active["rules"][0]["max_amount"] == "7000000"
    assert hashlib.sha256(text.encode()).hexdigest() != version["sha256"]  # canonical form stored


def _cookie_session(platform: Platform, user_id: str) -> str:
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, user_id)
        assert user is not None
        started = sessions.start(
            session,
            user=user,
            factors=("password", "totp"),
            source_ip="127.0.0.1",
            channel="console",
            policy=platform.session_policy,
            now=platform.desk.clock(),
        )
        return started.token


def test_the_console_page_shows_why_an_order_is_held_and_aborts_with_csrf(
    api: TestClient, desk_platform: Platform
) -> None:
    ref, _ = _held(desk_platform)
    carol, _auth = _staff(desk_platform, "carol", Right.ORDER_APPROVE)
    token = _cookie_session(desk_platform, carol.id)
    cookie = {"Cookie": f"{sessions.COOKIE}={token}"}
    anonymous = api.get("/console/holds")  # 401, or the console's login page
    assert ref not in anonymous.text
    page = api.get("/console/holds", headers=cookie)
    assert page.status_code == 200, page.text
    assert f"{ref}: BUY 6,000,000 EUR/USD (open)" in page.text
    # whose order it is, and the chat it came from: an approver must know the client
    with unit_of_work(desk_platform.sessions) as session:
        held = session.scalar(select(Order).where(Order.ref == ref))
        assert held is not None
        chat = f'<a href="/console/conversations/{held.conversation_id}">conversation</a>'
    assert f"Client alice · {chat}" in page.text
    assert "big [hold +0]: Large order: 6,600,000.00 USD is above" in page.text
    assert "limit=5000000" in page.text
    assert "order=6600000 " in page.text  # an amount as the approver reads it, not 6600000.00
    hold_id = page.text.split('action="/console/holds/')[1].split("/approve")[0]
    no_csrf = api.post(f"/console/holds/{hold_id}/abort", data={"reason": "no"}, headers=cookie)
    assert no_csrf.status_code == 403
    form = {"reason": "client called", "csrf_token": sessions.csrf_token(token)}
    done = api.post(
        f"/console/holds/{hold_id}/abort", data=form, headers=cookie, follow_redirects=False
    )
    assert done.status_code == 303
    after = api.get(done.headers["location"], headers=cookie).text  # where the form leads
    assert f"{ref} aborted: nothing was traded, and the client is told in the chat." in after
    assert "No open holds." in after
    unknown = api.get("/console/holds?done=aborted&hold=nope", headers=cookie).text
    assert 'role="alert"' not in unknown  # nothing said about a hold that is not there
    assert (
        f"{ref}: BUY 6,000,000 EUR/USD (aborted)"
        in api.get("/console/holds?state=all", headers=cookie).text
    )


def test_the_console_releases_a_hold_with_password_and_code_for_that_order(
    api: TestClient, desk_platform: Platform, clock: Clock
) -> None:
    ref, _ = _held(desk_platform)
    carol, _auth = _staff(desk_platform, "carol", Right.ORDER_APPROVE)
    token = _cookie_session(desk_platform, carol.id)
    cookie = {"Cookie": f"{sessions.COOKIE}={token}"}
    page = api.get("/console/holds", headers=cookie)
    assert 'href="/console/holds"' in page.text  # in the console's navigation
    hold_id = page.text.split('action="/console/holds/')[1].split("/approve")[0]
    form = {"csrf_token": sessions.csrf_token(token), "comment": "known client"}
    url = f"/console/holds/{hold_id}/approve"
    code = carol.code(clock.now.timestamp())
    no_csrf = {**form, "csrf_token": "", "password": carol.password, "otp": code}
    assert api.post(url, data=no_csrf, headers=cookie).status_code == 403
    wrong = api.post(url, data={**form, "password": "guess-again", "otp": code}, headers=cookie)
    assert wrong.status_code == 401
    assert "open)" in wrong.text  # still held, and the page says why plainly
    with unit_of_work(desk_platform.sessions) as session:
        failed = session.scalars(select(AuditEntry).where(AuditEntry.event == "authn:failed"))
        assert len(failed.all()) == 1  # committed, so lockout counts it
    clock.advance(30)
    right = {**form, "password": carol.password, "otp": carol.code(clock.now.timestamp())}
    done = api.post(url, data=right, headers=cookie, follow_redirects=False)
    assert done.status_code == 303, done.text
    said = api.get(done.headers["location"], headers=cookie).text
    assert f"{ref} released: it goes to the market, and the client is told in the chat." in said
    released = api.get("/console/holds?state=all", headers=cookie).text
    assert f"{ref}: BUY 6,000,000 EUR/USD (released)" in released
    with unit_of_work(desk_platform.sessions) as session:
        used = session.scalars(select(AuditEntry).where(AuditEntry.event == "stepup:used"))
        assert len(used.all()) == 1


def test_the_console_names_the_client_a_client_limit_held(platform: Platform) -> None:
    """The engine keys a client's limit as client:<id>; the approver reads the client's name."""
    client_rule = {"id": "hour", "kind": "limit", "title": "Client one-hour limit",
                   "scope": "client", "window": "rolling", "window_seconds": 3600,
                   "max_amount": "5000000"}  # fmt: skip
    rates = RATES.model_copy(
        update={
            "rates": tuple(
                r.model_copy(update={"as_of": platform.desk.clock()}) for r in RATES.rates
            )
        }
    )
    desk = dataclasses.replace(platform.desk, pretrade=PreTrade(ruleset(client_rule), rates))
    held_platform = dataclasses.replace(platform, desk=desk)
    ref, _ = _held(held_platform)
    carol, _auth = _staff(held_platform, "carol", Right.ORDER_APPROVE)
    cookie = {"Cookie": f"{sessions.COOKIE}={_cookie_session(held_platform, carol.id)}"}
    with TestClient(create_app(platform=held_platform), raise_server_exceptions=False) as http:
        page = http.get("/console/holds", headers=cookie).text
    assert f"{ref}: BUY 6,000,000 EUR/USD (open)" in page
    assert "above the 3600s limit of 5,000,000.00 USD for client alice" in page
    assert "key=client alice " in page
    assert "client:" not in page
