"""The directory sync and the bind login against a real Active Directory: Samba's AD domain
controller (tests/ldap/samba.py), over LDAPS with its certificate verified, with AD's own
attributes (objectGUID, uSNChanged, sAMAccountName, userAccountControl) and defaults. A user
made with samba-tool is synchronised, logs in to the console through the real form with the
directory's password and our code (a wrong one refused and counted), and is refused once
disabled in AD; a group change moves a role on a delta run, a deleted user is disabled by a full
run, a wrong service password is refused. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator

import pyotp
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import build_platform
from dealchat.db.session import unit_of_work
from dealchat.identity import directory
from dealchat.identity.models import DirectoryAccount, User
from dealchat.settings import DirectorySettings, Settings
from tests.conftest import Clock
from tests.factories.audit import entries, rules
from tests.identity.test_directory import approved_mapping, roles_of
from tests.identity.test_directory_login import _console, _decide, _failures, _form_login
from tests.ldap.samba import ADMIN, USERS, SambaDc, samba_dc

__all__ = ["samba_dc"]
PASSWORD = "Ad-Directory-Pass-42!"


def ad_settings(dc: SambaDc) -> DirectorySettings:
    """AD's defaults for everything but where the DC is (objectGUID, uSNChanged, user filter)."""
    return DirectorySettings(
        enabled=True,
        url=dc.url,
        ca_file=dc.ca_file,
        bind_dn=ADMIN,
        bind_password=dc.admin_password,
        user_base=USERS,
        group_base=USERS,
        bind_login=True,
    )


@pytest.fixture
def ad_platform(settings: Settings, clock: Clock, samba_dc: SambaDc) -> Iterator[Platform]:
    built = build_platform(settings.model_copy(update={"directory": ad_settings(samba_dc)}))
    built = dataclasses.replace(built, desk=dataclasses.replace(built.desk, clock=clock))
    yield built
    built.engine.dispose()


def _sync(platform: Platform, *, full: bool) -> directory.Report:
    with unit_of_work(platform.sessions) as session:
        return directory.sync(
            session, settings=platform.settings.directory, full=full, now=platform.desk.clock()
        )


def test_sync_and_bind_login_against_samba_ad(
    ad_platform: Platform, samba_dc: SambaDc, clock: Clock
) -> None:
    name = f"ad{secrets.token_hex(3)}"  # the DC lives for the module: a name per test
    samba_dc.tool("user", "create", name, PASSWORD, "--use-username-as-cn", "--surname=Lovelace")
    report = _sync(ad_platform, full=True)
    assert report.full
    secret = pyotp.random_base32(32)
    with unit_of_work(ad_platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == name)).one()
        assert (user.kind, user.password_hash) == ("internal", directory.NO_PASSWORD)
        account = session.scalars(
            select(DirectoryAccount).where(DirectoryAccount.user_id == user.id)
        ).one()
        assert len(account.directory_id) == 32, "objectGUID: 16 bytes"
        assert account.dn == f"CN={name},{USERS}"
        user.totp_secret_sealed = ad_platform.desk.sealer.seal(secret, context=f"totp:{user.id}")
    code = pyotp.TOTP(secret).at(int(clock.now.timestamp()))
    with _console(ad_platform) as client:
        assert _form_login(client, name, "Not-The-Ad-Password-1", code).status_code == 401
        response = _form_login(client, name, PASSWORD, code)
        assert response.status_code == 303, response.text
        assert client.get("/console/", follow_redirects=False).status_code == 200
    assert rules(ad_platform) == ["wrong-password", "directory-password+totp"]
    assert _failures(ad_platform, name) == 0, "the success started the count again"
    samba_dc.tool("user", "disable", name)
    delta = _sync(ad_platform, full=False)
    assert not delta.full
    assert len(delta.disabled) == 1, "userAccountControl's ACCOUNTDISABLE, read by uSNChanged"
    clock.advance(30)
    code = pyotp.TOTP(secret).at(int(clock.now.timestamp()))
    outcome = _decide(ad_platform, name, PASSWORD, code)
    assert (outcome.ok, outcome.rule) == (False, "account-locked")


def test_groups_move_roles_deletions_and_a_wrong_service_password_on_samba_ad(
    ad_platform: Platform, samba_dc: SambaDc
) -> None:
    tag = secrets.token_hex(3)
    name, dealers, compliance = f"ad{tag}", f"dealers-{tag}", f"compliance-{tag}"
    samba_dc.tool("user", "create", name, PASSWORD, "--use-username-as-cn")
    for group in (dealers, compliance):
        samba_dc.tool("group", "add", group)
    samba_dc.tool("group", "addmembers", dealers, name)
    with unit_of_work(ad_platform.sessions) as session:
        access.seed_defaults(session)
    approved_mapping(
        ad_platform, {f"CN={dealers},{USERS}": "dealer", f"CN={compliance},{USERS}": "compliance"}
    )
    _sync(ad_platform, full=True)
    assert roles_of(ad_platform, name) == {"dealer"}
    samba_dc.tool("group", "removemembers", dealers, name)
    samba_dc.tool("group", "addmembers", compliance, name)
    moved = _sync(ad_platform, full=False)
    assert not moved.full
    assert roles_of(ad_platform, name) == {"compliance"}, "a group change moves the role"
    samba_dc.tool("user", "delete", name)
    assert _sync(ad_platform, full=False).disabled == [], "a delta run cannot see a deletion"
    gone = _sync(ad_platform, full=True)
    assert len(gone.disabled) == 1
    assert entries(ad_platform, "user:disabled")[-1]["reason"] == "left the directory's scope"
    wrong = ad_platform.settings.directory.model_copy(
        update={"bind_password": SecretStr("Not-The-Admin-Password-1")}
    )
    with pytest.raises(directory.DirectoryError, match="bind-failed"):
        directory.read(wrong, high_water=None, full=True)
