"""Reviews (cases) in the console: opened from a search hit with the conversation around it,
claimed, commented, escalated, a breach closed by a second reviewer, the queue's overdue items,
the case exported; every step audited."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.surveillance.review_models import Review
from tests.compliance.conftest import OFF_CHANNEL
from tests.compliance.test_search import staff_with
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.identity import TestUser

OFFICER = [
    (Right.AUDIT_READ, {}),
    (Right.CONVERSATION_READ, {}),
    (Right.ALERT_READ, {}),
    (Right.ALERT_REVIEW, {}),
    (Right.AUDIT_EXPORT, {}),
]


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, html
    return found.group(1)


@pytest.fixture
def browsers(held_platform: Platform, clock: Clock) -> Iterator[dict[str, Any]]:
    """carol and dave, two compliance officers, each logged in to the console."""
    app = create_app(platform=held_platform)
    opened: dict[str, Any] = {}
    clients = []
    for name in ("carol", "dave"):
        user = staff_with(held_platform, name, OFFICER)
        browser = TestClient(app, base_url="https://testserver", follow_redirects=False)
        browser.__enter__()
        clients.append(browser)
        _log_in(browser, user, clock)
        opened[name] = (browser, user)
    yield opened
    for browser in clients:
        browser.__exit__(None, None, None)


def _log_in(browser: TestClient, user: TestUser, clock: Clock) -> None:
    form = {
        "username": user.username,
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "csrf_token": _csrf(browser.get("/console/login").text),
    }
    assert browser.post("/console/login", data=form).status_code == 303
    clock.advance(30)


def _post(browser: TestClient, path: str, **form: str) -> Any:
    page = browser.get("/console/search")
    return browser.post(path, data={"csrf_token": _csrf(page.text), **form})


def test_a_hit_becomes_a_case_and_a_breach_needs_a_second_reviewer(
    held_platform: Platform, alice_day: dict[str, Any], browsers: dict[str, Any], clock: Clock
) -> None:
    carol, _ = browsers["carol"]
    dave, dave_user = browsers["dave"]
    results = carol.get("/console/search", params={"client": "alice", "q": '"加我微信"'})
    link = re.search(r'href="(/console/reviews/new\?[^"]+)"', results.text)
    assert link, results.text
    new = carol.get(link.group(1).replace("&amp;", "&"))
    assert new.status_code == 200
    assert f"<mark>{OFF_CHANNEL}</mark>" in new.text  # the hit, with the messages around it
    form = dict(re.findall(r'name="(conversation|message|alert)" value="([^"]*)"', new.text))
    opened = _post(carol, "/console/reviews", summary="asks to move to WeChat", **form)
    assert opened.status_code == 303
    case = opened.headers["location"]
    page = carol.get(case)
    assert f"<mark>{OFF_CHANNEL}</mark>" in page.text
    assert _post(carol, f"{case}/claim").status_code == 303
    assert _post(carol, f"{case}/comment", text="client insists").status_code == 303
    assert _post(carol, f"{case}/escalate", to="MLRO", text="pattern").status_code == 303
    assert (
        _post(carol, f"{case}/close", disposition="breach", text="off-channel").status_code == 303
    )
    assert "closing" in carol.get(case).text
    again = _post(carol, f"{case}/close", disposition="breach", text="me again")
    assert again.status_code == 403
    assert "second reviewer" in again.text
    done = _post(dave, f"{case}/close", disposition="breach", text="confirmed")
    assert done.status_code == 303
    assert "disposition breach" in dave.get(case).text
    listed = carol.get("/console/reviews").text  # a closed case stays one click away
    assert "No open review." in listed
    assert f'<a href="{case}">CASE-1</a>' in listed.split("Recently closed")[1]
    with unit_of_work(held_platform.sessions) as session:
        review = session.scalars(select(Review)).one()
        assert (review.state, review.closed_by) == ("closed", dave_user.id)
        events = list(
            session.scalars(
                select(AuditEntry.event)
                .where(AuditEntry.subject == f"review:{review.id}")
                .order_by(AuditEntry.seq)
            )
        )
        ref = review.ref
    assert events == [
        "review:opened",
        "review:claimed",
        "review:commented",
        "review:escalated",
        "review:close_proposed",
        "review:closed",
    ]
    headers = {"Authorization": f"Bearer {token_for(held_platform, dave_user.id)}"}
    exported = dave.get("/api/v1/audit/reports", params={"case": ref}, headers=headers)
    assert exported.status_code == 200
    rows = exported.json()["rows"]
    assert {"review:opened", "review:closed", "message:received"} <= {r["event"] for r in rows}
    assert OFF_CHANNEL in [r.get("text") for r in rows]
    missing = dave.get("/api/v1/audit/reports", params={"case": "CASE-999"}, headers=headers)
    assert missing.status_code == 404


def test_the_queue_shows_overdue_reviews(
    held_platform: Platform, alice_day: dict[str, Any], browsers: dict[str, Any], clock: Clock
) -> None:
    carol, carol_user = browsers["carol"]
    with unit_of_work(held_platform.sessions) as session:
        alert_id = session.scalars(
            select(AuditEntry.subject).where(AuditEntry.event == "alert:raised")
        ).first()
    assert alert_id
    new = carol.get("/console/reviews/new", params={"alert": alert_id.split(":", 1)[1]})
    assert new.status_code == 200
    form = dict(re.findall(r'name="(conversation|message|alert)" value="([^"]*)"', new.text))
    assert _post(carol, "/console/reviews", **form).status_code == 303
    assert "0 overdue" in carol.get("/console/reviews").text
    clock.advance(49 * 3600)  # past the 48-hour deadline (and the console session)
    _log_in(carol, carol_user, clock)
    queue = carol.get("/console/reviews")
    assert "1 open, 1 overdue" in queue.text
    home = carol.get("/console/compliance")  # one click from the nav, each task one more
    assert home.status_code == 200
    assert 'href="/console/compliance"' in home.text
    assert "<strong>1 past deadline</strong>" in home.text
    for task in ("/console/alerts?status=open", "/console/search", "/console/reviews",
                 "/console/holds"):  # fmt: skip
        assert f'href="{task}"' in home.text
    with unit_of_work(held_platform.sessions) as session:
        opened = session.scalars(
            select(AuditEntry.payload).where(AuditEntry.event == "review:opened")
        ).one()
    assert json.loads(opened)["alert"] == alert_id.split(":", 1)[1]
