"""User administration: a new user chooses password and authenticator behind an enrolment link;
a second factor reset happens only once a second administrator approves it (never the one who
asked), and then every session of the user ends. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.api.deps import Platform
from dealchat.cli.main import app as cli
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import accounts, login, management, passwords
from dealchat.identity.models import ChatIdentity, FactorReset, User
from dealchat.identity.session_models import ApiToken
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.identity import TestUser, make_user


def _staff(platform: Platform, *names: str) -> list[TestUser]:
    """Internal users holding the default admin role."""
    made = [make_user(platform, name, kind="internal") for name in names]
    system = access.system_actor()
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        for name in names:
            access.assign(session, actor=system, role="admin", username=name)
    return made


def _admins(platform: Platform, *names: str) -> list[Actor]:
    _staff(platform, *names)
    with unit_of_work(platform.sessions) as session:
        found = [session.scalars(select(User).where(User.username == n)).one() for n in names]
        return [access.actor_for(session, user, factors=("password", "totp")) for user in found]


def _door(platform: Platform) -> management.Door:
    return management.Door(platform.desk.sealer, "dealchat", platform.desk.policy)


def _events(platform: Platform) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)))


def test_a_new_user_chooses_password_and_authenticator_behind_the_link(
    platform: Platform, client: TestClient, clock: Clock
) -> None:
    (ada,) = _admins(platform, "ada")
    with unit_of_work(platform.sessions) as session:
        invited = management.create(
            session,
            actor=ada,
            door=_door(platform),
            username="Nora.New",
            kind="internal",
            display_name="Nora New",
            now=clock.now,
        )
        row = management.user_row(session, "nora.new")
    assert invited.username == "nora.new"
    assert row.factors == []
    assert row.name == "Nora New"
    assert row.last_login is None
    shown = client.get(invited.path)
    assert 'name="password"' in shown.text
    assert 'minlength="15"' in shown.text
    secret = re.search(r"<code>([A-Z2-7]{32})</code>", shown.text)
    assert secret is not None
    code = pyotp.TOTP(secret.group(1)).at(clock.now)
    differ = client.post(
        invited.path, data={"otp": code, "password": "a" * 20, "password_again": "b" * 20}
    )
    assert differ.status_code == 400
    assert "differ" in differ.text
    short = client.post(
        invited.path, data={"otp": code, "password": "tiny phrase", "password_again": "tiny phrase"}
    )
    assert short.status_code == 400
    assert "at least 15" in short.text
    chosen = "my own long pass phrase"
    done = client.post(
        invited.path, data={"otp": code, "password": chosen, "password_again": chosen}
    )
    assert done.status_code == 200, done.text
    clock.advance(30)
    with unit_of_work(platform.sessions) as session:
        attempt = login.Attempt(
            "nora.new", chosen, pyotp.TOTP(secret.group(1)).at(clock.now), "console", "192.0.2.1"
        )
        outcome = login.decide(
            session,
            sealer=platform.desk.sealer,
            attempt=attempt,
            policy=platform.desk.policy.lockout,
            now=clock.now,
        )
        assert outcome.ok
        assert management.user_row(session, "nora.new").factors == ["password", "totp"]
    assert client.get(invited.path).status_code == 404, "single use"
    assert {"user:created", "totp_enrolment:started", "totp:enrolled"} <= set(_events(platform))


def test_without_a_password_nobody_logs_in(platform: Platform, clock: Clock) -> None:
    (ada,) = _admins(platform, "ada")
    with unit_of_work(platform.sessions) as session:
        management.create(
            session, actor=ada, door=_door(platform), username="zed", kind="external", now=clock.now
        )
        user = accounts.find_user(session, "zed")
        assert user.password_hash == passwords.UNSET
        assert not passwords.verify_password(user.password_hash, passwords.UNSET)


def test_a_factor_reset_needs_a_second_administrator(
    platform: Platform, client: TestClient, clock: Clock
) -> None:
    ada, bea = _admins(platform, "ada", "bea")
    carl = make_user(platform, "carl", kind="internal")
    token = token_for(platform, carl.id)
    with unit_of_work(platform.sessions) as session:
        session.add(
            ChatIdentity(
                channel="web",
                external_id="carl-chat",
                user_id=carl.id,
                authenticated_at=clock.now,
                last_active_at=clock.now,
            )
        )
    with unit_of_work(platform.sessions) as session:
        asked = management.request_reset(
            session, actor=ada, username="carl", factor="totp", reason="lost phone", now=clock.now
        )
        reset_id = asked.id
    with unit_of_work(platform.sessions) as session:
        pending = management.pending_resets(session, reader=ada, now=clock.now)
        assert [(p.username, p.mine) for p in pending] == [("carl", True)]
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as own:
        management.decide_reset(session, actor=ada, reset_id=reset_id, approve=True, now=clock.now)
    assert own.value.http_status == 403
    assert "second administrator" in own.value.message
    with unit_of_work(platform.sessions) as session:
        assert session.get_one(User, carl.id).totp_secret_sealed is not None, "nothing yet"
    with unit_of_work(platform.sessions) as session:
        management.decide_reset(session, actor=bea, reset_id=reset_id, approve=True, now=clock.now)
    with unit_of_work(platform.sessions) as session:
        user = session.get_one(User, carl.id)
        assert user.totp_secret_sealed is None
        assert session.get_one(FactorReset, reset_id).decided_by == bea.user_id
        assert session.scalars(select(ApiToken.revoked_at)).one() is not None
        assert session.scalars(select(ChatIdentity.ended_at)).one() is not None
        assert verify(session).ok
    probe = client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    assert probe.status_code == 401, "the user's token ended"
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as twice:
        management.decide_reset(session, actor=bea, reset_id=reset_id, approve=True, now=clock.now)
    assert twice.value.http_status == 409
    with unit_of_work(platform.sessions) as session:
        link = management.enrolment_link(
            session, actor=bea, door=_door(platform), username="carl", now=clock.now
        )
    assert link.path.startswith("/enrol/")
    events = _events(platform)
    assert events.index("factor_reset:requested") < events.index("factor_reset:approved")


def test_no_enrolment_link_over_a_working_authenticator(platform: Platform, clock: Clock) -> None:
    (ada,) = _admins(platform, "ada")
    make_user(platform, "dora", kind="external")
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as refused:
        management.enrolment_link(
            session, actor=ada, door=_door(platform), username="dora", now=clock.now
        )
    assert refused.value.http_status == 409


def test_a_refused_or_lapsed_reset_changes_nothing(platform: Platform, clock: Clock) -> None:
    ada, bea = _admins(platform, "ada", "bea")
    make_user(platform, "erin", kind="external")
    with unit_of_work(platform.sessions) as session:
        accounts.set_phone(session, username="erin", phone="+447700900123", actor="t")
        first = management.request_reset(
            session, actor=ada, username="erin", factor="sms", reason="new number", now=clock.now
        ).id
        second = management.request_reset(
            session, actor=ada, username="erin", factor="sms", reason="again", now=clock.now
        ).id
    with unit_of_work(platform.sessions) as session:
        management.decide_reset(session, actor=bea, reset_id=first, approve=False, now=clock.now)
    clock.advance(management.RESET_TTL.total_seconds() + 1)
    with unit_of_work(platform.sessions) as session, pytest.raises(DealchatError) as lapsed:
        management.decide_reset(session, actor=bea, reset_id=second, approve=True, now=clock.now)
    assert "expired" in lapsed.value.message
    with unit_of_work(platform.sessions) as session:
        assert accounts.find_user(session, "erin").sms_phone == "+447700900123"
    assert "factor_reset:refused" in _events(platform)


def test_the_api_and_the_cli_take_the_same_four_eyes(
    platform: Platform,
    client: TestClient,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, bea = _staff(platform, "ada", "bea")
    make_user(platform, "fay", kind="external")
    with unit_of_work(platform.sessions) as session:
        ids = {u.username: u.id for u in session.scalars(select(User))}
    ada, bea_token = token_for(platform, ids["ada"]), token_for(platform, ids["bea"])
    asked = client.post(
        "/api/v1/admin/users/fay/factor-resets",
        json={"factor": "totp", "reason": "new phone"},
        headers={"Authorization": f"Bearer {ada}"},
    )
    assert asked.status_code == 201, asked.text
    reset_id = asked.json()["id"]
    listed = client.get(
        "/api/v1/admin/factor-resets", headers={"Authorization": f"Bearer {bea_token}"}
    )
    assert [(r["username"], r["mine"]) for r in listed.json()] == [("fay", False)]
    own = client.post(
        f"/api/v1/admin/factor-resets/{reset_id}/approve",
        headers={"Authorization": f"Bearer {ada}"},
    )
    assert own.status_code == 403
    assert "second administrator" in own.json()["title"]
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    typed = f"{bea.password}\n{bea.code(time.time())}\n"
    ran = CliRunner().invoke(
        cli, ["users", "approve-factor-reset", reset_id, "--token", bea_token], input=typed
    )
    assert ran.exit_code == 0, ran.output
    assert "is approved" in ran.output
    with unit_of_work(platform.sessions) as session:
        assert session.get_one(User, ids["fay"]).totp_secret_sealed is None
