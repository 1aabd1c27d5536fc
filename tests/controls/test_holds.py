"""Four-eyes holds: distinct approvers with order:approve, never the one who entered or owns the
client; release places the order and tells the client; abort and expiry give headroom back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access.policy import Actor
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.controls import holds, limits
from dealchat.controls.models import HoldStep, Reservation
from dealchat.controls.service import PreTrade
from dealchat.conversations import pretrade
from dealchat.conversations.bodies import text_of
from dealchat.conversations.models import Message
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from tests.conftest import Clock
from tests.controls.rulesets import RATES, ruleset
from tests.factories.controls import approver, client, ticket

SINGLE = {"id": "single", "kind": "limit", "title": "Large order", "max_amount": "5000000"}
DAY = {"id": "day", "kind": "limit", "scope": "client", "window": "day", "max_amount": "1e9"}


def _platform(platform: Platform, *rules: dict[str, object], **fields: object) -> Platform:
    rates = RATES.model_copy(
        update={
            "rates": tuple(
                r.model_copy(update={"as_of": platform.desk.clock()}) for r in RATES.rates
            )
        }
    )
    desk = dataclasses.replace(
        platform.desk, pretrade=PreTrade(ruleset(SINGLE, DAY, *rules, **fields), rates)
    )
    return dataclasses.replace(platform, desk=desk)


def _place(platform: Platform, client_id: str, quantity: str) -> tuple[str, str]:
    now = platform.desk.clock()
    with unit_of_work(platform.sessions) as session:
        order = ticket(session, client_id=client_id, quantity=quantity, now=now)
        user = session.get(User, client_id)
        assert user is not None
        reply = pretrade.place_checked(
            session, desk=platform.desk, order=order, client=user, now=now
        )
        return order.id, reply


def _hold_id(platform: Platform, order_id: str) -> str:
    with unit_of_work(platform.sessions) as session:
        found = holds.find(session, hold_or_ref=order_id)
        if found is None:
            order = session.get(Order, order_id)
            assert order is not None
            found = holds.find(session, hold_or_ref=order.ref)
        assert found is not None
        return found.id


def _act(platform: Platform, step: Callable[..., Order], hold_id: str, actor: Actor) -> Order:
    with unit_of_work(platform.sessions) as session:
        return step(
            session,
            desk=platform.desk,
            hold_id=hold_id,
            actor=actor,
            **({"comment": "ok"} if step is pretrade.approve_hold else {"reason": "not today"}),
            now=platform.desk.clock(),
        )


def _order(platform: Platform, order_id: str) -> Order:
    with unit_of_work(platform.sessions) as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order


def _last_bot_text(platform: Platform, order: Order) -> str:
    with unit_of_work(platform.sessions) as session:
        last = session.scalars(
            select(Message)
            .where(Message.conversation_id == order.conversation_id, Message.direction == "out")
            .order_by(Message.created_at.desc())
        ).first()
        return "" if last is None else text_of(session, platform.desk, last)


def _follow_receipt_link(platform: Platform, order: Order) -> dict[str, Any]:
    """The link in the bot's last message, opened from its seal and fetched once."""
    with unit_of_work(platform.sessions) as session:
        last = session.scalars(
            select(Message)
            .where(Message.conversation_id == order.conversation_id, Message.direction == "out")
            .order_by(Message.created_at.desc())
        ).first()
        assert last is not None
        assert last.link is not None
        link = platform.desk.sealer.open(last.link, context=f"message:{last.id}")
    with TestClient(create_app(platform=platform)) as http:
        response = http.get(urlparse(link).path)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found


def test_a_held_order_needs_two_distinct_approvers_then_is_placed_and_the_client_told(
    platform: Platform,
) -> None:
    platform = _platform(platform, four_eyes=2)
    alice = client(platform, "alice")
    order_id, reply = _place(platform, alice, "6000000")
    ref = _order(platform, order_id).ref
    assert reply == (
        f"{ref} is on hold: the desk checks it before it goes to the market (large order). "
        "I will tell you here when it is released or stopped."
    )
    assert _order(platform, order_id).state == "held"
    hold_id = _hold_id(platform, order_id)
    carol, dave = approver(platform, "carol"), approver(platform, "dave")

    assert _act(platform, pretrade.approve_hold, hold_id, carol).state == "held"
    with pytest.raises(DealchatError, match="approved already"):
        _act(platform, pretrade.approve_hold, hold_id, carol)
    filled = _act(platform, pretrade.approve_hold, hold_id, dave)
    assert filled.state == "filled"
    told = _last_bot_text(platform, filled)
    assert told.startswith(f"FILLED {ref}")
    assert "Your signed receipt" in told
    receipt = _follow_receipt_link(platform, filled)
    assert receipt["content_hash"] == filled.ticket_hash
    assert ref in json.dumps(receipt)
    with unit_of_work(platform.sessions) as session:
        (view,) = holds.views(session, state="released")
        assert view.approvers == (carol.user_id, dave.user_id)
        assert (
            "single [hold +0]: Large order: 6,600,000.00 USD is above" in view.decision.explanation
        )
        states = session.scalars(select(Reservation.state).where(Reservation.order_id == order_id))
        assert set(states) == {limits.CONSUMED}
        events = session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)).all()
        assert verify(session).ok
    assert [e for e in events if e.startswith(("hold:", "order:held"))] == [
        "order:held",
        "hold:approved",
        "hold:approved",
        "hold:released",
    ]


def test_who_may_not_release_a_hold(platform: Platform) -> None:
    platform = _platform(platform)
    manager = approver(platform, "manager")
    alice = client(platform, "alice", desk="FX-LDN", owner_id=manager.user_id)
    hold_id = _hold_id(platform, _place(platform, alice, "6000000")[0])
    nobody = Actor(manager.user_id + "x", "nobody", "internal")
    other_desk = approver(platform, "tokyo", desk="FX-TKY")
    alice_herself = dataclasses.replace(manager, user_id=alice, username="alice", kind="internal")
    for actor, complaint in [
        (manager, "relationship manager"),
        (nobody, "needs order:approve"),
        (other_desk, "needs order:approve"),
        (alice_herself, "entered an order"),
        (dataclasses.replace(manager, kind="external"), "external-users-never"),
    ]:
        with pytest.raises(DealchatError, match=complaint):
            _act(platform, pretrade.approve_hold, hold_id, actor)
    same_desk = approver(platform, "london", desk="FX-LDN")
    assert _act(platform, pretrade.approve_hold, hold_id, same_desk).state == "filled"
    with unit_of_work(platform.sessions) as session:
        assert len(session.scalars(select(HoldStep)).all()) == 1


def test_an_abort_stops_the_order_tells_the_client_and_releases_headroom(
    platform: Platform,
) -> None:
    platform = _platform(platform)
    alice = client(platform, "alice")
    order_id, _ = _place(platform, alice, "6000000")
    hold_id = _hold_id(platform, order_id)
    aborted = _act(platform, pretrade.abort_hold, hold_id, approver(platform, "carol"))
    assert aborted.state == "aborted"
    assert _last_bot_text(platform, aborted) == (
        f"{aborted.ref} was stopped by the desk and not sent to the market. Nothing was traded."
    )
    with unit_of_work(platform.sessions) as session:
        states = session.scalars(select(Reservation.state).where(Reservation.order_id == order_id))
        assert set(states) == {limits.RELEASED}
    with pytest.raises(DealchatError, match="the hold is aborted"):
        _act(platform, pretrade.approve_hold, hold_id, approver(platform, "dave"))


def test_holds_expire(platform: Platform, clock: Callable[[], dt.datetime]) -> None:
    platform = _platform(platform, hold_minutes=30)
    alice = client(platform, "alice")
    order_id, _ = _place(platform, alice, "6000000")
    hold_id = _hold_id(platform, order_id)
    clock.advance(31 * 60)  # type: ignore[attr-defined]
    with pytest.raises(DealchatError, match="expired"):
        _act(platform, pretrade.approve_hold, hold_id, approver(platform, "carol"))
    with unit_of_work(platform.sessions) as session:
        expired = pretrade.expire_holds(session, desk=platform.desk, now=clock())
        assert [order.id for order in expired] == [order_id]
    order = _order(platform, order_id)
    assert order.state == "expired"
    assert "was not approved in time" in _last_bot_text(platform, order)
    with unit_of_work(platform.sessions) as session:
        assert pretrade.expire_holds(session, desk=platform.desk, now=clock()) == []


def test_an_allowed_order_is_filled_and_its_headroom_consumed(platform: Platform) -> None:
    platform = _platform(platform)
    alice = client(platform, "alice")
    order_id, reply = _place(platform, alice, "1000000")
    assert reply.startswith("FILLED ")
    with unit_of_work(platform.sessions) as session:
        (reservation,) = session.scalars(
            select(Reservation).where(Reservation.order_id == order_id)
        )
        assert reservation.state == limits.CONSUMED
        assert Decimal(str(reservation.amount)) == Decimal("1100000")


def test_a_hold_is_not_released_onto_a_closed_desk(platform: Platform, clock: Clock) -> None:
    clock.now = dt.datetime(2026, 11, 24, 17, 40, tzinfo=dt.UTC)  # Tuesday, 20 minutes to close
    platform = _platform(platform, {"id": "hours", "kind": "hours", "action": "reject"})
    alice = client(platform, "alice", desk="FX-LDN")
    order_id, _ = _place(platform, alice, "6000000")
    hold_id = _hold_id(platform, order_id)
    clock.advance(30 * 60)  # 18:10 London: the desk has closed; the hold has not expired
    with pytest.raises(DealchatError, match="opens Wed 25 Nov 07:00 Europe/London"):
        _act(platform, pretrade.approve_hold, hold_id, approver(platform, "carol"))
    assert _order(platform, order_id).state == "held"
    with unit_of_work(platform.sessions) as session:
        assert session.scalars(select(HoldStep)).all() == []  # the refused approval left nothing
