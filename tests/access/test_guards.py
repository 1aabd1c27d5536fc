"""The two guards every door gets from the service: the last administrator keeps their role, and
the client role never gets a right clients may not hold. On SQLite and PostgreSQL; the API and
the CLI refuse with the same message."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access import guards
from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.main import app as cli
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity.models import User
from dealchat.records.models import AuditEntry
from dealchat.settings import Settings
from tests.factories.access import token_for
from tests.factories.identity import make_user


def _seeded(platform: Platform, *admins: str) -> None:
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        for name in admins:
            access.assign(session, actor=system, role="admin", username=name)


def _actor(platform: Platform, username: str) -> Actor:
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return access.actor_for(session, user, factors=("password", "totp"))


def _events(platform: Platform) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuditEntry.event)))


def test_the_last_administrator_cannot_remove_their_own_admin_role(platform: Platform) -> None:
    make_user(platform, "ada", kind="internal")
    _seeded(platform, "ada")
    ada = _actor(platform, "ada")
    before = _events(platform).count("role:unassigned")
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as refused:
        access.unassign(session, actor=ada, role="admin", username="ada")
    assert refused.value.http_status == 409
    assert "no administrator" in refused.value.message
    for take_away in (
        lambda s: access.delete_role(s, actor=ada, name="admin"),
        lambda s: access.remove_grant(
            s,
            actor=ada,
            grant_id=next(
                g["id"]
                for v in access.list_roles(s)
                if v.name == "admin"
                for g in v.grants
                if g["right"] == "user:manage"
            ),
        ),
    ):
        with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as again:
            take_away(session)
        assert again.value.data["rule"] == "last-administrator"
    with unit_of_work(platform.sessions) as session:
        assert guards.administrators(session) == {ada.user_id}
    assert _events(platform).count("role:unassigned") == before


def test_with_a_second_administrator_the_role_can_go(platform: Platform) -> None:
    make_user(platform, "ada", kind="internal")
    make_user(platform, "bea", kind="internal")
    _seeded(platform, "ada", "bea")
    ada = _actor(platform, "ada")
    with unit_of_work(platform.sessions) as session:
        access.unassign(session, actor=ada, role="admin", username="ada")
    bea = _actor(platform, "bea")
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError):
        access.unassign(session, actor=bea, role="admin", username="bea")  # now she is the last
    assert "role:unassigned" in _events(platform)


def test_a_right_clients_never_hold_is_not_added_to_the_client_role(platform: Platform) -> None:
    make_user(platform, "ada", kind="internal")
    _seeded(platform, "ada")
    ada = _actor(platform, "ada")
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as refused:
        access.add_grant(session, actor=ada, role="client", right=Right.ORDER_READ)
    assert "order:read is a right an external user may never hold" in refused.value.message
    assert refused.value.data["rule"] == "client-rights-only"
    with unit_of_work(platform.sessions) as session:
        access.create_role(session, actor=ada, name="vip")
        access.add_grant(session, actor=ada, role="vip", right=Right.DOCUMENT_UPLOAD)
    make_user(platform, "carla", kind="external")
    with unit_of_work(platform.sessions) as session:
        access.assign(session, actor=ada, role="vip", username="carla")
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError):
        access.add_grant(session, actor=ada, role="vip", right=Right.AUDIT_EXPORT)  # she holds it
    with unit_of_work(platform.sessions) as session:
        access.add_grant(session, actor=ada, role="dealer", right=Right.AUDIT_READ)  # staff role


def test_the_api_and_the_cli_refuse_alike(
    platform: Platform, client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = make_user(platform, "ada", kind="internal")
    _seeded(platform, "ada")
    token = token_for(platform, ada.id)
    bearer = {"Authorization": f"Bearer {token}"}
    api = client.delete("/api/v1/admin/assignments/admin/ada", headers=bearer)
    assert api.status_code == 409, api.text
    assert "no administrator" in api.json()["title"]
    grant = client.post(
        "/api/v1/admin/roles/client/grants", json={"right": "order:approve"}, headers=bearer
    )
    assert grant.status_code == 400
    assert "may never hold" in grant.json()["title"]
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    ran = CliRunner().invoke(cli, ["roles", "unassign", "admin", "ada", "--token", token])
    assert ran.exit_code != 0
    assert "no administrator" in ran.output
    granted = CliRunner().invoke(cli, ["roles", "grant", "client", "alert:read", "--token", token])
    assert granted.exit_code != 0
    assert "may never hold" in granted.output
    with unit_of_work(platform.sessions) as session:
        roles = {view.name: view for view in access.list_roles(session)}
    assert roles["admin"].users == ["ada"]
    assert json.dumps(roles["client"].grants).count("document:upload") == 1
    assert len(roles["client"].grants) == 1
