"""The access log under retention: personal details sealed at rest per person and month, read
back through the access log, erased after 2 years with tombstones unless a legal hold keeps them,
the proofs intact; lockout unchanged; the live-key cache never outlives a destroyed key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.conversations.holds import scopes_for_hold
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.records import personal, retention
from dealchat.records.envelope import ContentErasedError, Envelope
from dealchat.records.envelope_kek import FileKek
from dealchat.records.envelope_models import DataKey
from dealchat.records.keycache import DEFAULT_LIVE_FOR_SECONDS, KeyCache
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.audit import entries
from tests.factories.identity import make_user
from tests.identity.test_lockout import SMALL, attempt

POLICY = retention.RetentionPolicy({"chat": 7, "orders": 7, "access_logs": 2})
IP = "203.0.113.77"  # where the login attempts come from


@pytest.fixture
def people(client: TestClient, platform: Platform) -> dict[str, Any]:
    """carla reads the access log; dana.q is denied the roles page once."""
    carla = make_user(platform, "carla", kind="internal")
    dana = make_user(platform, "dana.q", kind="internal")
    give_role(platform, "carla", "compliance", [Right.ACCESS_LOG_READ])
    dealer = {"Authorization": f"Bearer {token_for(platform, dana.id)}"}
    assert client.get("/api/v1/admin/roles", headers=dealer).status_code == 403
    return {
        "carla": carla.id,
        "dana": dana.id,
        "auditor": {"Authorization": f"Bearer {token_for(platform, carla.id)}"},
    }


def _dana_log(client: TestClient, people: dict[str, Any]) -> list[dict[str, Any]]:
    found = client.get("/api/v1/admin/access-log?username=dana.q", headers=people["auditor"])
    assert found.status_code == 200
    return list(found.json())


def _raw(platform: Platform, event: str) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.event == event))
        return [f"{row.actor} {row.subject} {row.payload}" for row in rows]


def _run(platform: Platform, now: dt.datetime) -> dict[str, Any]:
    with unit_of_work(platform.sessions) as session:
        return retention.run(
            session,
            envelope=platform.desk.envelope,
            policy=POLICY,
            resolve=scopes_for_hold,
            now=now,
            actor="test",
        )


def _later() -> dt.datetime:
    """2 years and a day after the requests (decisions are timed by the wall clock)."""
    return retention.add_years(dt.datetime.now(dt.UTC), 2) + dt.timedelta(days=1)


def test_details_are_sealed_at_rest_and_the_access_log_opens_them(
    client: TestClient, platform: Platform, people: dict[str, Any]
) -> None:
    denied = _raw(platform, "access:denied")
    assert denied
    assert not any("dana.q" in raw or "/api/v1/admin/roles" in raw for raw in denied)
    shown = [d for d in _dana_log(client, people) if d["right"] == "role:manage"]
    assert len(shown) == 1
    entry = shown[0]
    assert (entry["user"], entry["operation"], entry["erased"]) == (
        "dana.q",
        "GET /api/v1/admin/roles",
        False,
    )
    assert entry["source_ip"]
    assert not any(entry["source_ip"] in raw for raw in denied)
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    with unit_of_work(platform.sessions) as session:
        assert personal.scopes_of(session, people["dana"]) == {f"access:{people['dana']}:{month}"}


def test_an_expired_month_is_erased_then_reads_as_erased_and_the_log_verifies(
    client: TestClient, platform: Platform, people: dict[str, Any]
) -> None:
    dana_scope = f"access:{people['dana']}:{dt.datetime.now(dt.UTC):%Y-%m}"
    early = _run(platform, _later() - dt.timedelta(days=2))
    assert dana_scope not in {item["scope"] for item in early["erased_scopes"]}
    report = _run(platform, _later())
    erased = {item["scope"]: item for item in report["erased_scopes"]}
    assert dana_scope in erased
    assert erased[dana_scope]["class"] == "access_logs"
    entry = next(d for d in _dana_log(client, people) if d["right"] == "role:manage")
    assert entry["erased"] is True
    assert "user" not in entry
    assert "source_ip" not in entry
    assert "operation" not in entry
    assert (entry["result"], entry["user_id"], entry["rule"]) == (
        "denied",
        people["dana"],
        "deny-by-default",
    )
    assert entry["at"]
    page = client.get("/console/access-log", headers=people["auditor"])
    assert page.status_code == 200
    assert "erased under the retention policy" in page.text
    with unit_of_work(platform.sessions) as session:
        tombstone = session.get(AuditEntry, erased[dana_scope]["audit_seq"])
        assert tombstone is not None
        assert (tombstone.event, tombstone.subject) == ("content:erased", dana_scope)
        assert verify(session).ok
    # carla's key for this month went too: what she does now is sealed under a new one
    newest = client.get("/api/v1/admin/access-log?limit=1", headers=people["auditor"]).json()
    assert (newest[0]["user"], newest[0]["erased"]) == ("carla", False)


@pytest.mark.parametrize("kind", ["user", "client"])
def test_a_legal_hold_on_the_person_keeps_their_access_log(
    kind: str, client: TestClient, platform: Platform, people: dict[str, Any]
) -> None:
    with unit_of_work(platform.sessions) as session:
        hold = retention.set_hold(
            session,
            kind=kind,
            target=people["dana"],
            reason="internal investigation 26-9",
            actor="user:compliance",
            now=dt.datetime.now(dt.UTC),
        )
        hold_id = hold.id
    assert _dana_log(client, people)  # carla's reading is in her own access log
    report = _run(platform, _later())
    held = {item["scope"]: item["holds"] for item in report["held_scopes"]}
    erased = {item["scope"] for item in report["erased_scopes"]}
    assert held == {f"access:{people['dana']}:{dt.datetime.now(dt.UTC):%Y-%m}": [hold_id]}
    assert any(scope.startswith(f"access:{people['carla']}:") for scope in erased)
    entry = next(d for d in _dana_log(client, people) if d["right"] == "role:manage")
    assert entry["erased"] is False
    assert entry["user"] == "dana.q"
    with unit_of_work(platform.sessions) as session:
        retention.lift_hold(
            session, hold_id=hold_id, reason="closed", actor="user:compliance", now=_later()
        )
    assert set(held) <= {item["scope"] for item in _run(platform, _later())["erased_scopes"]}
    held_entries = [e for e in entries(platform, "legalhold:set") if e["kind"] == kind]
    assert held_entries[0]["target"] == people["dana"]


def test_the_hold_api_takes_a_user(
    client: TestClient, platform: Platform, people: dict[str, Any]
) -> None:
    give_role(platform, "carla", "legal", [Right.LEGAL_HOLD_MANAGE])
    body = {"kind": "user", "target": people["dana"], "reason": "internal investigation"}
    made = client.post("/api/v1/retention/holds", json=body, headers=people["auditor"])
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "user"


def test_logins_are_sealed_and_lockout_still_counts(platform: Platform, clock: Clock) -> None:
    erin = make_user(platform, "erin.k")
    assert attempt(platform, clock, erin, ip=IP)
    for _ in range(SMALL.hard_threshold):
        assert not attempt(platform, clock, erin, password="wrong", ip=IP)
        clock.advance(SMALL.account_max_delay.total_seconds() + 1)
    assert not attempt(platform, clock, erin, ip=IP)  # hard-locked: the right password fails
    with unit_of_work(platform.sessions) as session:
        user = session.scalars(select(User).where(User.username == "erin.k")).one()
        assert user.locked_at is not None
    raw = _raw(platform, "authn:failed") + _raw(platform, "authn:succeeded")
    assert raw
    assert not any(IP in text for text in raw)
    failed = entries(platform, "authn:failed")
    assert {e["source_ip"] for e in failed} == {IP}
    assert failed[-1]["rule"] == "account-locked"
    assert failed[-1]["locked"] is True
    started = entries(platform, "authn:succeeded")
    assert started[0]["source_ip"] == IP
    assert started[0]["user"] == erin.id


def test_the_cache_never_seals_under_a_key_destroyed_elsewhere(
    platform: Platform, settings: Settings
) -> None:
    kek, ticks = FileKek(settings.keys_dir / "shared-kek"), [0.0]
    here = Envelope(kek, keys=KeyCache(clock=lambda: ticks[0]))
    elsewhere = Envelope(kek)  # two processes sharing one KEK and database
    now = dt.datetime.now(dt.UTC)
    first = _seal(platform, here, "first", now)
    assert len(here.keys) == 1  # cached once its transaction committed
    with unit_of_work(platform.sessions) as session:
        elsewhere.destroy(session, scope="access:test:x", reason="test", actor="test", now=now)
    ticks[0] += DEFAULT_LIVE_FOR_SECONDS  # the cache's last sight of the key is a second old
    second = _seal(platform, here, "second", now)
    assert second[0] != first[0]  # a new key, not the destroyed one still in the cache
    with unit_of_work(platform.sessions) as session:
        assert _open(session, here, first) is None
        assert _open(session, here, second) == "second"
        keys = session.scalars(select(DataKey).where(DataKey.scope == "access:test:x")).all()
        assert sorted(k.wrapped is None for k in keys) == [False, True]


def test_a_key_destroyed_elsewhere_within_the_second_fails_the_one_commit_that_used_it(
    platform: Platform, settings: Settings
) -> None:
    """A key a commit here saw live less than a second ago is sealed under without reading its
    row first; the commit's own check finds it destroyed: nothing is stored, the key is
    forgotten, and the next transaction seals under a new one."""
    kek = FileKek(settings.keys_dir / "shared-kek")
    here, elsewhere = Envelope(kek), Envelope(kek)
    now = dt.datetime.now(dt.UTC)
    first = _seal(platform, here, "first", now)
    with unit_of_work(platform.sessions) as session:
        elsewhere.destroy(session, scope="access:test:x", reason="test", actor="test", now=now)
    with pytest.raises(ContentErasedError):
        _seal(platform, here, "lost", now)
    assert len(here.keys) == 0
    second = _seal(platform, here, "second", now)
    assert second[0] != first[0]
    with unit_of_work(platform.sessions) as session:
        assert _open(session, here, second) == "second"
        keys = session.scalars(select(DataKey).where(DataKey.scope == "access:test:x")).all()
        assert sorted(k.wrapped is None for k in keys) == [False, True]


def test_a_key_made_in_a_rolled_back_transaction_is_not_cached(
    platform: Platform, settings: Settings
) -> None:
    envelope = Envelope(FileKek(settings.keys_dir / "kek-rollback"))
    now = dt.datetime.now(dt.UTC)
    with platform.sessions() as session:
        envelope.seal(session, scope="access:test:y", context="c", plaintext="gone", now=now)
        session.rollback()
    assert len(envelope.keys) == 0
    sealed = _seal(platform, envelope, "kept", now, scope="access:test:y")
    with unit_of_work(platform.sessions) as session:
        assert _open(session, envelope, sealed) == "kept"
    with unit_of_work(platform.sessions) as session:
        envelope.rotate_kek(session, actor="test")
    assert len(envelope.keys) == 0  # a rotation drops every cached key


def _seal(
    platform: Platform, envelope: Envelope, text: str, now: dt.datetime, scope: str = ""
) -> tuple[str, bytes, str]:
    scope = scope or "access:test:x"
    with unit_of_work(platform.sessions) as session:
        sealed = envelope.seal(session, scope=scope, context="c", plaintext=text, now=now)
    return sealed.data_key_id, sealed.blob, scope


def _open(session: Session, envelope: Envelope, sealed: tuple[str, bytes, str]) -> str | None:
    try:
        return envelope.open(session, data_key_id=sealed[0], blob=sealed[1], context="c")
    except LookupError:
        return None


def test_an_entry_from_before_sealing_reads_as_it_was(platform: Platform) -> None:
    old = {"at": "2026-01-01T00:00:00+00:00", "user": "x", "source_ip": "192.0.2.1"}
    with unit_of_work(platform.sessions) as session:
        assert personal.reveal(session, old) == old
