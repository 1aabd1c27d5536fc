"""The review queue and lexicon over HTTP, behind `require(...)` with real API tokens."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.chat import Chat
from tests.factories.surveillance import REVIEW, staff


def _bearer(platform: Platform, username: str, *rights: Right) -> dict[str, str]:
    actor = staff(platform, username, *rights)
    return {"Authorization": f"Bearer {token_for(platform, actor.user_id)}"}


def test_a_reviewer_works_an_alert_over_http(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    Chat(client, clock).say("text me on signal")
    ann = _bearer(platform, "ann", *REVIEW)
    reader = _bearer(platform, "rita", Right.ALERT_READ)
    assert client.get("/api/v1/alerts").status_code == 401
    listed = client.get("/api/v1/alerts", params={"status": "open"}, headers=reader)
    assert listed.status_code == 200, listed.text
    (alert,) = listed.json()["alerts"]
    assert (alert["rule"], alert["status"]) == ("other-app", "open")
    base = f"/api/v1/alerts/{alert['id']}"
    assert client.post(f"{base}/claim", headers=reader).status_code == 403
    assert client.post(f"{base}/claim", headers=ann).json()["status"] == "claimed"
    wrong = client.post(f"{base}/close", json={"disposition": "meh", "comment": "x"}, headers=ann)
    assert wrong.status_code in (400, 422)
    assert wrong.headers["content-type"].startswith("application/problem+json")
    closed = client.post(
        f"{base}/close",
        json={"disposition": "no_breach", "comment": "client means the app they use with us"},
        headers=ann,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["disposition"] == "no_breach"
    shown = client.get(base, headers=reader).json()
    assert shown["highlighted"] == "text [[me on signal]]"
    assert [step["event"] for step in shown["history"]] == [
        "alert:raised",
        "alert:claimed",
        "alert:closed",
    ]
    assert (
        client.get("/api/v1/alerts/0123456789abcdef0123456789abcdef", headers=reader).status_code
        == 404
    )


def test_a_lexicon_version_is_proposed_and_approved_by_two_people_over_http(
    client: TestClient, platform: Platform
) -> None:
    eddie = _bearer(platform, "eddie", Right.LEXICON_EDIT, Right.RULE_APPROVE)
    abby = _bearer(platform, "abby", Right.RULE_APPROVE)
    source = "name: rumours\nrules:\n  - id: heard\n    query: heard NEAR/3 (rumour OR rumor)\n"
    bad = client.post("/api/v1/lexicon", json={"source": "name: rumours\n"}, headers=eddie)
    assert bad.status_code == 400
    proposed = client.post("/api/v1/lexicon", json={"source": source}, headers=eddie)
    assert proposed.status_code == 201, proposed.text
    assert client.post("/api/v1/lexicon/rumours/1/approve", headers=eddie).status_code == 403
    assert (
        client.post("/api/v1/lexicon/rumours/1/approve", headers=abby).json()["state"] == "active"
    )
    preview = client.post("/api/v1/lexicon/backtest", json={"source": source}, headers=eddie)
    assert preview.status_code == 200, preview.text
    assert preview.json()["policy"] == "rumours"
