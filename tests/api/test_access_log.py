"""Reading the access log: by API (filters, paging) and on the console (its own nav entry)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from tests.factories.access import give_role, token_for
from tests.factories.identity import make_user


def _bearer(platform: Platform, user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(platform, user_id)}"}


def test_compliance_reads_who_was_allowed_and_denied_what(
    client: TestClient, platform: Platform
) -> None:
    carla = make_user(platform, "carla", kind="internal")
    dana = make_user(platform, "dana", kind="internal")
    give_role(platform, "carla", "compliance", [Right.ACCESS_LOG_READ])
    auditor, dealer = _bearer(platform, carla.id), _bearer(platform, dana.id)
    assert client.get("/api/v1/admin/roles", headers=dealer).status_code == 403
    assert client.get("/api/v1/admin/access-log", headers=dealer).status_code == 403
    denied = client.get(
        "/api/v1/admin/access-log?username=dana&result=denied", headers=auditor
    ).json()
    assert [(d["right"], d["operation"]) for d in denied] == [
        ("access_log:read", "GET /api/v1/admin/access-log"),
        ("role:manage", "GET /api/v1/admin/roles"),
    ]
    assert all(d["user"] == "dana" and d["result"] == "denied" for d in denied)
    everything = client.get("/api/v1/admin/access-log?limit=2", headers=auditor).json()
    assert len(everything) == 2
    assert everything[0]["seq"] > everything[1]["seq"]
    older = client.get(
        f"/api/v1/admin/access-log?before={everything[1]['seq']}", headers=auditor
    ).json()
    assert all(d["seq"] < everything[1]["seq"] for d in older)
    assert client.get("/api/v1/admin/access-log?result=maybe", headers=auditor).status_code == 422


def test_the_console_shows_the_access_log_only_to_holders(
    client: TestClient, platform: Platform
) -> None:
    carla = make_user(platform, "carla", kind="internal")
    dana = make_user(platform, "dana", kind="internal")
    give_role(platform, "carla", "compliance", [Right.ACCESS_LOG_READ])
    auditor, dealer = _bearer(platform, carla.id), _bearer(platform, dana.id)
    assert 'href="/console/access-log"' in client.get("/console/", headers=auditor).text
    assert 'href="/console/access-log"' not in client.get("/console/", headers=dealer).text
    page = client.get("/console/access-log?result=denied", headers=auditor)
    assert page.status_code == 200
    client.get("/console/access-log", headers=dealer)
    page = client.get("/console/access-log?result=denied", headers=auditor)
    assert "GET /console/access-log" in page.text
    assert "deny-by-default" in page.text
