"""The admin API: roles, grants, assignments, attributes, tokens; each behind role/user:manage."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.identity import make_user


@pytest.fixture
def admin(platform: Platform) -> dict[str, str]:
    user = make_user(platform, "root", kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="admin", username="root")
    return {"Authorization": f"Bearer {token_for(platform, user.id)}"}


def test_an_admin_builds_a_role_with_conditions_and_assigns_it(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    created = client.post("/api/v1/admin/roles", json={"name": "ldn-desk"}, headers=admin)
    assert created.status_code == 201, created.text
    grant = {"right": "order:approve", "conditions": {"desk": ["FX-LDN"]}}
    assert client.post("/api/v1/admin/roles/ldn-desk/grants", json=grant, headers=admin).is_success
    body = {"role": "ldn-desk", "username": "dana"}
    assert client.post("/api/v1/admin/assignments", json=body, headers=admin).status_code == 201
    attributes = {"desk": "FX-LDN", "region": "EMEA"}
    put = client.put("/api/v1/admin/users/dana/attributes", json=attributes, headers=admin)
    assert put.json() == attributes
    roles = {r["name"]: r for r in client.get("/api/v1/admin/roles", headers=admin).json()}
    assert roles["ldn-desk"]["users"] == ["dana"]
    assert roles["ldn-desk"]["grants"][0]["conditions"] == {"desk": ["FX-LDN"]}
    dana_token = {"Authorization": f"Bearer {token_for(platform, dana.id)}"}
    me = client.get("/api/v1/auth/whoami", headers=dana_token).json()
    assert me["rights"] == ["order:approve"]
    gone = client.delete("/api/v1/admin/assignments/ldn-desk/dana", headers=admin)
    assert gone.status_code == 204
    assert client.get("/api/v1/auth/whoami", headers=dana_token).json()["rights"] == []


def test_bad_input_names_the_field(client: TestClient, admin: dict[str, str]) -> None:
    for body in ({"name": "Bad Name"}, {"name": "ok", "extra": 1}):
        response = client.post("/api/v1/admin/roles", json=body, headers=admin)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    client.post("/api/v1/admin/roles", json={"name": "r2"}, headers=admin)
    bad = client.post(
        "/api/v1/admin/roles/r2/grants", json={"right": "order:launch"}, headers=admin
    )
    assert bad.status_code == 422
    unknown = client.post(
        "/api/v1/admin/roles/r2/grants",
        json={"right": "audit:read", "conditions": {"colour": ["red"]}},
        headers=admin,
    )
    assert unknown.status_code == 400


def test_a_delegated_role_manager_cannot_grant_beyond_what_it_holds(
    client: TestClient, platform: Platform
) -> None:
    sec = make_user(platform, "sec", kind="internal")
    give_role(platform, "sec", "security", [Right.ROLE_MANAGE, Right.AUDIT_READ])
    headers = {"Authorization": f"Bearer {token_for(platform, sec.id)}"}
    assert client.post("/api/v1/admin/roles", json={"name": "r3"}, headers=headers).is_success
    ok = client.post("/api/v1/admin/roles/r3/grants", json={"right": "audit:read"}, headers=headers)
    assert ok.status_code == 201
    refused = client.post(
        "/api/v1/admin/roles/r3/grants", json={"right": "order:approve"}, headers=headers
    )
    assert refused.status_code == 403
    assert "nobody grants a right they do not hold" in refused.json()["title"]
    assert client.get("/api/v1/admin/tokens", headers=headers).status_code == 403


def test_tokens_are_issued_once_listed_without_secret_and_revoked(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    make_user(platform, "dana", kind="internal")
    issued = client.post(
        "/api/v1/admin/tokens", json={"username": "dana", "name": "ci", "days": 7}, headers=admin
    )
    assert issued.status_code == 201
    secret = issued.json()["token"]
    dana = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/auth/whoami", headers=dana).json()["username"] == "dana"
    listed = client.get("/api/v1/admin/tokens?username=dana", headers=admin).json()
    assert [t["name"] for t in listed] == ["ci"]
    assert secret not in str(listed)
    revoked = client.delete(f"/api/v1/admin/tokens/{issued.json()['id']}", headers=admin)
    assert revoked.status_code == 204
    assert client.get("/api/v1/auth/whoami", headers=dana).status_code == 401


def test_revoking_a_users_sessions_ends_its_tokens(
    client: TestClient, platform: Platform, admin: dict[str, str]
) -> None:
    dana = make_user(platform, "dana", kind="internal")
    headers = {"Authorization": f"Bearer {token_for(platform, dana.id)}"}
    assert client.get("/api/v1/auth/whoami", headers=headers).status_code == 200
    response = client.post(
        "/api/v1/admin/users/dana/revoke-sessions", json={"reason": "lost laptop"}, headers=admin
    )
    assert response.json() == {"revoked": 1}
    assert client.get("/api/v1/auth/whoami", headers=headers).status_code == 401


def test_changes_need_a_fresh_login_reads_do_not(
    client: TestClient, admin: dict[str, str], clock: Clock
) -> None:
    clock.advance(901)
    assert client.get("/api/v1/admin/roles", headers=admin).status_code == 200
    stale = client.post("/api/v1/admin/roles", json={"name": "late"}, headers=admin)
    assert stale.status_code == 401
    assert "max_age=900" in stale.headers["www-authenticate"]
