"""The pre-trade check in the chat: on every confirmed order, before the counterparty."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import build_platform, create_app
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from dealchat.settings import ControlsSettings, Settings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user

RULES = {
    "name": "chat",
    "calendars": [
        {"name": "ALWAYS", "timezone": "UTC", "weekdays": [0, 1, 2, 3, 4, 5, 6]},
        {"name": "LDN", "timezone": "Europe/London", "open": "07:00", "close": "18:00"},
    ],
    "desks": {"*": ["ALWAYS"], "FX-LDN": ["LDN"]},
    "rules": [
        {"id": "hours", "kind": "hours", "title": "Business hours", "action": "reject"},
        {"id": "big", "kind": "limit", "title": "Large order", "max_amount": "5000000"},
        {
            "id": "huge",
            "kind": "limit",
            "title": "Order size limit",
            "max_amount": "20000000",
            "action": "reject",
        },
    ],
}


@pytest.fixture
def chat_platform(database_url: str, tmp_path: Path, clock: Clock) -> Iterator[Platform]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(RULES), encoding="utf-8")
    rates = tmp_path / "rates.yaml"
    rate = {"currency": "EUR", "rate": "1.1", "source": "test", "as_of": clock.now.isoformat()}
    rates.write_text(yaml.safe_dump({"rates": [rate]}), encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        controls=ControlsSettings(rules_file=rules, rates_file=rates),
    )
    built = build_platform(settings)
    yield dataclasses.replace(built, desk=dataclasses.replace(built.desk, clock=clock))
    built.engine.dispose()


def _confirm(chat: Chat, alice: object, order_text: str) -> str:
    assert chat.text(order_text).startswith("TO CONFIRM")
    assert chat.log_in(chat.link("c"), alice).status_code == 200  # type: ignore[arg-type]
    return chat.text("c")


def test_allowed_held_and_rejected_orders_in_the_chat(
    chat_platform: Platform, clock: Clock
) -> None:
    with TestClient(create_app(platform=chat_platform)) as http:
        alice = make_user(chat_platform)
        chat = Chat(http, clock)
        chat.link_and_log_in(alice)
        assert _confirm(chat, alice, "buy 1m eurusd").startswith("FILLED ORD-")
        clock.advance(30)
        held = _confirm(chat, alice, "buy 6m eurusd")
        clock.advance(30)
        rejected = _confirm(chat, alice, "buy 30m eurusd")
    with unit_of_work(chat_platform.sessions) as session:
        orders = list(session.scalars(select(Order).order_by(Order.created_at)))
        decided = [
            json.loads(payload)
            for payload in session.scalars(
                select(AuditEntry.payload)
                .where(AuditEntry.event == "control:decided")
                .order_by(AuditEntry.seq)
            )
        ]
        placed = set(
            session.scalars(select(AuditEntry.subject).where(AuditEntry.event == "order:placed"))
        )
    assert [o.state for o in orders] == ["filled", "held", "rejected"]
    assert held == (
        f"{orders[1].ref} is on hold: the desk checks it before it goes to the market "
        "(large order). I will tell you here when it is released or stopped."
    )
    assert rejected == (
        f"{orders[2].ref} was not sent to the market: large order, order size limit. "
        "Nothing was traded."
    )
    assert [d["decision"] for d in decided] == ["allow", "hold", "reject"]
    fired = decided[2]["fired"]
    assert [f["rule"] for f in fired] == ["big", "huge"]
    assert fired[1]["values"] == {
        "key": "global",
        "window": "order",
        "used": "0",
        "order": "33000000.00",
        "limit": "20000000",
        "currency": "USD",
    }
    assert placed == {f"order:{orders[0].id}"}  # only the allowed order reached the counterparty


def test_a_closed_desk_rejects_and_says_when_it_opens(
    chat_platform: Platform, clock: Clock
) -> None:
    clock.now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Saturday
    with TestClient(create_app(platform=chat_platform)) as http:
        alice = make_user(chat_platform)
        with unit_of_work(chat_platform.sessions) as session:
            user = session.get(User, alice.id)
            assert user is not None
            user.desk = "FX-LDN"
        chat = Chat(http, clock)
        chat.link_and_log_in(alice)
        rejected = _confirm(chat, alice, "buy 1m eurusd")
    with unit_of_work(chat_platform.sessions) as session:
        order = session.scalars(select(Order)).one()
    assert order.state == "rejected"
    assert rejected == (
        f"{order.ref} was not sent to the market: business hours (the desk opens Mon 30 Nov "
        "07:00 Europe/London). Nothing was traded."
    )
