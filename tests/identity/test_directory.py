"""Directory sync against a real directory: Debian's OpenLDAP slapd started by the fixture
(tests/ldap) with the Active Directory attributes the sync reads, over StartTLS with the server's
certificate verified. Initial sync, a group change moving a role, a disabled account ending a
live console session, a deleted user, a delta run touching only what changed, a wrong bind
password and an unknown CA refused; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update
from typer.testing import CliRunner

from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import directory, sessions
from dealchat.identity.models import DirectoryAccount, User
from dealchat.identity.session_models import AuthSession
from dealchat.settings import DirectorySettings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.identity import make_user
from tests.ldap.fixture import BASE, SYNC_DN, Slapd, _tls, admin

DEALERS = f"cn=dealers,ou=groups,{BASE}"
COMPLIANCE = f"cn=compliance,ou=groups,{BASE}"
ENABLED, DISABLED = 512, 514  # userAccountControl: NORMAL_ACCOUNT, and with ACCOUNTDISABLE


def settings_for(found: Slapd, **changes: Any) -> DirectorySettings:
    return DirectorySettings(
        enabled=True,
        url=found.url,
        start_tls=True,
        ca_file=found.ca_file,
        bind_dn=SYNC_DN,
        bind_password=found.sync_password,
        user_base=found.users,
        group_base=found.groups,
        group_filter="(objectClass=groupOfNames)",
        id_attribute="entryUUID",  # OpenLDAP's lasting id (objectGUID on AD)
        change_attribute="entryCSN",  # slapd's change mark, in microseconds (uSNChanged on AD)
        **changes,
    )


def person_dn(name: str) -> str:
    return f"cn={name},ou=people,{BASE}"


def add_person(found: Slapd, name: str, display: str, control: int = ENABLED) -> None:
    connection = admin(found)
    assert connection.add(
        person_dn(name),
        ["inetOrgPerson", "user"],
        {
            "cn": name,
            "sn": display.rsplit(maxsplit=1)[-1],
            "displayName": display,
            "sAMAccountName": name,
            "userAccountControl": control,
        },
    ), connection.result
    connection.unbind()


def set_group(found: Slapd, group: str, members: list[str]) -> None:
    """groupOfNames needs a member: the sync account stands in for an empty group."""
    connection = admin(found)
    values = [person_dn(m) for m in members] or [SYNC_DN]
    if not connection.modify(group, {"member": [("MODIFY_REPLACE", values)]}):
        cn = group.split(",", maxsplit=1)[0].split("=")[1]
        assert connection.add(group, ["groupOfNames"], {"cn": cn, "member": values})
    connection.unbind()


def modify(found: Slapd, name: str, **values: Any) -> None:
    connection = admin(found)
    changes = {key: [("MODIFY_REPLACE", [value])] for key, value in values.items()}
    assert connection.modify(person_dn(name), changes), connection.result
    connection.unbind()


MAPPING = {DEALERS: "dealer", COMPLIANCE: "compliance"}


def administrators(platform: Platform) -> tuple[Actor, Actor]:
    """Two administrators (role:manage), as Actors, for the four-eyes mapping."""
    found = []
    for name in ("ada.admin", "bea.admin"):
        make_user(platform, name, kind="internal")
        with unit_of_work(platform.sessions) as session:
            access.assign(session, actor=access.system_actor(), role="admin", username=name)
            user = session.scalars(select(User).where(User.username == name)).one()
            found.append(access.actor_for(session, user, factors=("password", "totp")))
    return found[0], found[1]


def approved_mapping(platform: Platform, mapping: dict[str, str]) -> None:
    ada, bea = administrators(platform)
    now = platform.desk.clock()
    with unit_of_work(platform.sessions) as session:
        row = directory.propose_mapping(session, mapping=mapping, actor=ada, comment="t", now=now)
        directory.decide_mapping(session, mapping_id=row.id, actor=bea, approve=True, now=now)


@pytest.fixture
def directory_platform(platform: Platform, slapd: Slapd) -> Platform:
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
    approved_mapping(platform, MAPPING)
    add_person(slapd, "dlee", "Dan Lee")
    add_person(slapd, "cwong", "Cara Wong")
    set_group(slapd, DEALERS, ["dlee"])
    set_group(slapd, COMPLIANCE, ["cwong"])
    return platform


def run(platform: Platform, found: Slapd, *, full: bool = False) -> directory.Report:
    with unit_of_work(platform.sessions) as session:
        return directory.sync(
            session, settings=settings_for(found), full=full, now=platform.desk.clock()
        )


def roles_of(platform: Platform, username: str) -> set[str]:
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        actor = access.actor_for(session, user)
        return {grant.role for grant in actor.grants}


def test_initial_sync_creates_users_with_their_roles(
    directory_platform: Platform, slapd: Slapd
) -> None:
    report = run(directory_platform, slapd)
    assert report.full
    assert (len(report.created), report.read, report.conflicts) == (2, 2, [])
    with unit_of_work(directory_platform.sessions) as session:
        users = {u.username: u for u in session.scalars(select(User))}
        assert users["dlee"].kind == "internal"
        assert users["dlee"].display_name == "Dan Lee"
        assert users["dlee"].password_hash == directory.NO_PASSWORD
        assert len(session.scalars(select(DirectoryAccount)).all()) == 2
    assert roles_of(directory_platform, "dlee") == {"dealer"}
    assert roles_of(directory_platform, "cwong") == {"compliance"}
    [synced] = entries(directory_platform, "directory:synced")
    assert (synced["created"], synced["roles_added"], synced["full"]) == (2, 2, True)
    assert len(entries(directory_platform, "user:created")) == 4, "two admins, two synced"


def test_a_group_change_moves_a_role_on_a_delta_run(
    directory_platform: Platform, slapd: Slapd
) -> None:
    run(directory_platform, slapd)
    set_group(slapd, DEALERS, [])
    set_group(slapd, COMPLIANCE, ["cwong", "dlee"])
    report = run(directory_platform, slapd)
    assert not report.full
    assert roles_of(directory_platform, "dlee") == {"compliance"}
    assert sorted(r.split(":")[1] for r in report.roles_removed) == ["dealer"]
    assert sorted(r.split(":")[1] for r in report.roles_added) == ["compliance"]


def _console_session(platform: Platform, username: str) -> str:
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        started = sessions.start(
            session,
            user=user,
            factors=("saml", "idp-mfa"),
            source_ip="127.0.0.1",
            channel="console",
            policy=platform.session_policy,
            now=platform.desk.clock(),
        )
        return started.token


def test_a_disabled_account_ends_a_live_session_at_once(
    directory_platform: Platform, slapd: Slapd, clock: Clock
) -> None:
    run(directory_platform, slapd)
    token = _console_session(directory_platform, "dlee")
    with TestClient(
        create_app(platform=directory_platform), base_url="https://testserver"
    ) as client:
        client.cookies.set(sessions.COOKIE, token)
        assert client.get("/console/", follow_redirects=False).status_code == 200
        modify(slapd, "dlee", userAccountControl=DISABLED)
        report = run(directory_platform, slapd)
        assert len(report.disabled) == 1
        assert client.get("/console/", follow_redirects=False).status_code != 200
    with unit_of_work(directory_platform.sessions) as session:
        row = session.scalars(select(AuthSession)).one()
        assert row.revoke_reason == "directory: disabled in the directory"
        dlee = session.scalars(select(User).where(User.username == "dlee")).one()
        assert dlee.locked_at is not None
    [disabled] = entries(directory_platform, "user:disabled")
    assert disabled["reason"] == "disabled in the directory"
    assert disabled["sessions_and_tokens_ended"] == 1
    with unit_of_work(directory_platform.sessions) as session:  # unlocked here by hand
        session.execute(update(User).where(User.username == "dlee").values(locked_at=None))
    assert len(run(directory_platform, slapd, full=True).disabled) == 1, (
        "the directory still says disabled"
    )
    modify(slapd, "dlee", userAccountControl=ENABLED)
    assert len(run(directory_platform, slapd).enabled) == 1
    with unit_of_work(directory_platform.sessions) as session:
        assert session.scalars(select(User.locked_at).where(User.username == "dlee")).one() is None


def test_a_deleted_user_is_disabled_by_a_full_run(
    directory_platform: Platform, slapd: Slapd
) -> None:
    run(directory_platform, slapd)
    set_group(slapd, COMPLIANCE, [])
    connection = admin(slapd)
    assert connection.delete(person_dn("cwong"))
    connection.unbind()
    assert run(directory_platform, slapd).disabled == [], "a delta run cannot see a deletion"
    report = run(directory_platform, slapd, full=True)
    assert len(report.disabled) == 1
    assert (
        entries(directory_platform, "user:disabled")[-1]["reason"] == "left the directory's scope"
    )


def test_a_delta_run_touches_only_what_changed(directory_platform: Platform, slapd: Slapd) -> None:
    run(directory_platform, slapd)
    modify(slapd, "dlee", displayName="Daniel Lee")
    report = run(directory_platform, slapd)
    assert report.read == 1, "only the changed entry is read"
    assert (len(report.updated), report.created, report.disabled) == (1, [], [])
    [updated] = entries(directory_platform, "user:directory_updated")
    assert updated["fields"] == ["display_name"]
    assert updated["changed"] == {"display_name": ["Dan Lee", "Daniel Lee"]}
    again = run(directory_platform, slapd)
    assert (again.updated, again.created, again.roles_added) == ([], [], [])


def test_a_local_username_is_not_taken_over(directory_platform: Platform, slapd: Slapd) -> None:
    make_user(directory_platform, "dlee", kind="internal")
    report = run(directory_platform, slapd)
    assert len(report.conflicts) == 1
    assert len(entries(directory_platform, "directory:conflict")) == 1


def test_a_wrong_bind_password_or_an_unknown_ca_is_refused(
    directory_platform: Platform, slapd: Slapd, tmp_path: Path
) -> None:
    wrong = settings_for(slapd).model_copy(update={"bind_password": SecretStr("not-the-password")})
    with pytest.raises(directory.DirectoryError, match="bind-failed"):
        directory.read(wrong, high_water=None, full=True)
    (tmp_path / "other").mkdir()  # a second CA, unrelated to the directory's
    unrelated, _, _ = _tls(tmp_path / "other")
    untrusted = settings_for(slapd).model_copy(update={"ca_file": unrelated})
    with pytest.raises(directory.DirectoryError):
        directory.read(untrusted, high_water=None, full=True)
    with unit_of_work(directory_platform.sessions) as session:
        assert session.scalars(select(DirectoryAccount)).all() == []


def test_plain_ldap_without_starttls_is_refused_by_settings(slapd: Slapd) -> None:
    with pytest.raises(ValueError, match="TLS"):
        DirectorySettings(url=slapd.url, start_tls=False)


def test_the_command_runs_a_sync(
    directory_platform: Platform, slapd: Slapd, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(slapd)
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(directory_platform.settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", directory_platform.settings.db_url)
    for key, value in {
        "URL": settings.url,
        "CA_FILE": str(settings.ca_file),
        "BIND_DN": settings.bind_dn,
        "BIND_PASSWORD": slapd.sync_password,
        "USER_BASE": settings.user_base,
        "GROUP_BASE": settings.group_base,
        "GROUP_FILTER": settings.group_filter,
        "ID_ATTRIBUTE": settings.id_attribute,
        "CHANGE_ATTRIBUTE": settings.change_attribute,
    }.items():
        monkeypatch.setenv(f"DEALCHAT_DIRECTORY__{key}", str(value))
    monkeypatch.setenv("DEALCHAT_DIRECTORY__ENABLED", "true")
    done = CliRunner().invoke(app, ["directory", "sync", "--full"])
    assert done.exit_code == 0, done.output
    assert "created 2" in done.output
    listed = CliRunner().invoke(app, ["directory", "mappings"])
    assert listed.exit_code == 0, listed.output
    assert "\tactive\t" in listed.output


def test_the_mapping_needs_a_second_administrator(platform: Platform, slapd: Slapd) -> None:
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
    add_person(slapd, "dlee", "Dan Lee")
    set_group(slapd, DEALERS, ["dlee"])
    ada, bea = administrators(platform)
    now = platform.desk.clock()
    with unit_of_work(platform.sessions) as session:
        with pytest.raises(DealchatError, match="no role"):
            directory.propose_mapping(
                session, mapping={DEALERS: "no-such-role"}, actor=ada, comment="", now=now
            )
        proposed = directory.propose_mapping(
            session, mapping={DEALERS: "dealer"}, actor=ada, comment="desk", now=now
        )
        proposal = proposed.id
    with (
        unit_of_work(platform.sessions) as session,
        pytest.raises(DealchatError, match="second administrator"),
    ):
        directory.decide_mapping(session, mapping_id=proposal, actor=ada, approve=True, now=now)
    run(platform, slapd)
    assert roles_of(platform, "dlee") == set(), "a proposed mapping gives no role"
    with unit_of_work(platform.sessions) as session:
        directory.decide_mapping(session, mapping_id=proposal, actor=bea, approve=True, now=now)
    run(platform, slapd)
    assert roles_of(platform, "dlee") == {"dealer"}
    events = [
        e["event"]
        for e in entries(
            platform,
            "directory:mapping_proposed",
            "directory:mapping_approved",
        )
    ]
    assert events == ["directory:mapping_proposed", "directory:mapping_approved"]


def test_serve_syncs_periodically_and_fully_when_due(
    directory_platform: Platform, slapd: Slapd, clock: Clock
) -> None:
    settings = settings_for(slapd).model_copy(update={"interval_minutes": 0.002, "full_hours": 1})
    syncer = directory.Syncer(directory_platform.sessions, settings, clock=clock).start()
    try:
        deadline = time.monotonic() + 20
        while not entries(directory_platform, "directory:synced"):
            assert time.monotonic() < deadline, "no sync ran"
            time.sleep(0.05)
    finally:
        syncer.stop()
    runs = entries(directory_platform, "directory:synced")
    assert runs[0]["full"]
    assert runs[0]["created"] == 2
    assert all(not run["full"] for run in runs[1:]), "the next full run is an hour away"
    clock.advance(3600)
    assert syncer.run_once().full
