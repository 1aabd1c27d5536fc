"""Retention classes, legal holds and `dealchat retention run`, with the clock injected."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.cli.retention import policy_of
from dealchat.conversations import bodies
from dealchat.conversations.holds import scopes_for_hold
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.records import retention
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import RetentionSettings, Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user

SEVEN_YEARS = retention.RetentionPolicy({"chat": 7, "orders": 7, "access_logs": 2})


def test_years_are_calendar_years_and_29_february_falls_back() -> None:
    leap = dt.datetime(2028, 2, 29, 12, tzinfo=dt.UTC)
    assert retention.add_years(leap, 7) == dt.datetime(2035, 2, 28, 12, tzinfo=dt.UTC)
    assert retention.add_years(leap, 4) == leap.replace(year=2032)
    assert SEVEN_YEARS.class_of("conversation:x") == "chat"
    assert SEVEN_YEARS.class_of("order:x") == "orders"
    assert SEVEN_YEARS.class_of("access:x") == "access_logs"
    assert SEVEN_YEARS.expires_at("document:x", leap) is None  # unknown class: kept


def test_default_periods_come_from_settings() -> None:
    assert policy_of(Settings()).years == {"chat": 7, "orders": 7, "access_logs": 2}
    custom = Settings(retention=RetentionSettings(chat_years=10, access_logs_years=3))
    assert policy_of(custom).years == {"chat": 10, "orders": 7, "access_logs": 3}


@pytest.fixture
def two_chats(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice links and tickets an order in one chat; an unlinked sender says hello in another."""
    alice = make_user(platform)
    chat = Chat(client, clock, conversation="conv-alice-01", sender="sender-alice-01")
    chat.link_and_log_in(alice)
    assert chat.text("buy 1m eurusd").startswith("TO CONFIRM")
    Chat(client, clock, conversation="conv-other-01", sender="sender-other-1").say("hello")
    with unit_of_work(platform.sessions) as session:
        ids = {c.external_id: c.id for c in session.scalars(select(Conversation))}
        order = session.scalars(select(Order)).one()
    return {
        "alice": alice.id,
        "mine": ids["conv-alice-01"],
        "other": ids["conv-other-01"],
        "order": order.id,
        "ref": order.ref,
    }


def _run(platform: Platform, now: dt.datetime) -> dict[str, Any]:
    with unit_of_work(platform.sessions) as session:
        return retention.run(
            session,
            envelope=platform.desk.envelope,
            policy=SEVEN_YEARS,
            resolve=scopes_for_hold,
            now=now,
            actor="test",
        )


def _texts(platform: Platform, conversation_id: str) -> set[str]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(Message).where(Message.conversation_id == conversation_id))
        return {bodies.text_of(session, platform.desk, row) for row in rows}


def _erased(report: dict[str, Any]) -> set[str]:
    """The chat and order scopes erased (the access log's go after 2 years: test_accesslog.py)."""
    return {item["scope"] for item in report["erased_scopes"]} - _access(report, "erased_scopes")


def _access(report: dict[str, Any], key: str) -> set[str]:
    return {item["scope"] for item in report[key] if item["scope"].startswith("access:")}


def test_nothing_goes_before_seven_years(
    two_chats: dict[str, Any], platform: Platform, clock: Clock
) -> None:
    report = _run(platform, retention.add_years(clock.now, 7) - dt.timedelta(days=1))
    assert _erased(report) == set()
    assert report["erased"] == len(_access(report, "erased_scopes"))
    assert bodies.ERASED not in _texts(platform, two_chats["mine"])


def test_expired_chats_are_erased_with_tombstones_and_the_log_verifies(
    two_chats: dict[str, Any], platform: Platform, clock: Clock
) -> None:
    later = retention.add_years(clock.now, 7) + dt.timedelta(days=1)
    report = _run(platform, later)
    mine, other = (bodies.scope_of(two_chats[k]) for k in ("mine", "other"))
    assert _erased(report) == {mine, other}
    assert _access(report, "erased_scopes")  # alice's logins and decisions, 2 years on
    assert report["held"] == 0
    assert _texts(platform, two_chats["mine"]) == {bodies.ERASED}
    assert _texts(platform, two_chats["other"]) == {bodies.ERASED}
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        for item in report["erased_scopes"]:
            tombstone = session.get(AuditEntry, item["audit_seq"])
            assert tombstone is not None
            assert (tombstone.event, tombstone.subject) == ("content:erased", item["scope"])
        run_entry = session.get(AuditEntry, report["audit_seq"])
        assert run_entry is not None
        assert run_entry.event == "retention:run"
    assert _run(platform, later)["erased"] == 0  # a second run finds nothing more


@pytest.mark.parametrize("kind", ["conversation", "client", "order", "order-ref"])
def test_a_legal_hold_wins_over_expiry_until_lifted(
    kind: str, two_chats: dict[str, Any], platform: Platform, clock: Clock
) -> None:
    target = {
        "conversation": two_chats["mine"],
        "client": two_chats["alice"],
        "order": two_chats["order"],
        "order-ref": two_chats["ref"],
    }[kind]
    with unit_of_work(platform.sessions) as session:
        hold = retention.set_hold(
            session,
            kind=kind.removesuffix("-ref"),
            target=target,
            reason="FCA inquiry 2026/17",
            actor="user:compliance",
            now=clock.now,
        )
        hold_id = hold.id
    later = retention.add_years(clock.now, 8)
    report = _run(platform, later)
    mine = bodies.scope_of(two_chats["mine"])
    assert _erased(report) == {bodies.scope_of(two_chats["other"])}
    held = [(i["scope"], i["holds"]) for i in report["held_scopes"]]
    assert [item for item in held if not item[0].startswith("access:")] == [(mine, [hold_id])]
    # a hold on the client keeps her access log too; on a conversation or order, it does not
    assert bool(_access(report, "held_scopes")) == (kind == "client")
    assert all(scope.startswith(f"access:{two_chats['alice']}:") for scope, _ in held[:-1])
    assert bodies.ERASED not in _texts(platform, two_chats["mine"])
    with unit_of_work(platform.sessions) as session:
        retention.lift_hold(
            session, hold_id=hold_id, reason="inquiry closed", actor="user:compliance", now=later
        )
    assert _erased(_run(platform, later)) == {mine}  # with the client's access log, if held
    with unit_of_work(platform.sessions) as session:
        audited = {
            e.event: json.loads(e.payload)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.event.like("legalhold:%")))
        }
        assert verify(session).ok
    assert audited["legalhold:set"]["reason"] == "FCA inquiry 2026/17"
    assert audited["legalhold:lifted"]["reason"] == "inquiry closed"


def test_holds_are_checked(platform: Platform, clock: Clock) -> None:
    with unit_of_work(platform.sessions) as session:
        with pytest.raises(ValueError, match="client, user, conversation, order"):
            retention.set_hold(
                session, kind="desk", target="x", reason="r", actor="a", now=clock.now
            )
        with pytest.raises(ValueError, match="reason"):
            retention.set_hold(
                session, kind="client", target="x", reason=" ", actor="a", now=clock.now
            )
        with pytest.raises(LookupError):
            retention.lift_hold(session, hold_id="nope", reason="r", actor="a", now=clock.now)


def _cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_dealchat_retention_cli(
    two_chats: dict[str, Any], settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = json.loads(
        _cli(
            settings,
            monkeypatch,
            "retention",
            "hold",
            "set",
            "--order",
            two_chats["ref"],
            "--reason",
            "dispute",
        )
    )
    assert hold["kind"] == "order"
    listed = _cli(settings, monkeypatch, "retention", "hold", "list")
    assert [json.loads(line)["id"] for line in listed.splitlines()] == [hold["id"]]
    later = retention.add_years(clock.now, 7) + dt.timedelta(days=2)
    report = json.loads(_cli(settings, monkeypatch, "retention", "run", "--now", later.isoformat()))
    assert _erased(report) == {bodies.scope_of(two_chats["other"])}
    assert report["held"] == 1
    _cli(settings, monkeypatch, "retention", "hold", "lift", hold["id"], "--reason", "settled")
    report = json.loads(_cli(settings, monkeypatch, "retention", "run", "--now", later.isoformat()))
    assert report["erased"] == 1
    assert _cli(settings, monkeypatch, "retention", "hold", "list") == ""
