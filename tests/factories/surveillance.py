"""Staff with roles for surveillance tests, and orders recorded as the order flow records them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.access.service import (
    actor_for,
    add_grant,
    assign,
    create_role,
    system_actor,
    user_named,
)
from dealchat.api.deps import Platform
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.orders.service import new_ref
from dealchat.records.events import AuditEvent
from dealchat.records.service import record
from tests.factories.identity import make_user


def staff(platform: Platform, username: str, *rights: Right) -> Actor:
    """An internal user holding exactly `rights` through a role of its own."""
    make_user(platform, username, kind="internal")
    root = system_actor()
    with unit_of_work(platform.sessions) as session:
        role = f"r-{username}"
        create_role(session, actor=root, name=role)
        for right in rights:
            add_grant(session, actor=root, role=role, right=right)
        assign(session, actor=root, role=role, username=username)
    return refreshed(platform, username)


def refreshed(platform: Platform, username: str) -> Actor:
    with unit_of_work(platform.sessions) as session:
        return actor_for(session, user_named(session, username), factors=("test",))


REVIEW = (Right.ALERT_READ, Right.ALERT_REVIEW)


def conversation(platform: Platform, external_id: str = "conv-orders-1") -> str:
    with unit_of_work(platform.sessions) as session:
        found = session.scalar(select(Conversation).where(Conversation.external_id == external_id))
        if found is not None:
            return found.id
        row = Conversation(channel="webchat", external_id=external_id)
        session.add(row)
        session.flush()
        return row.id


def placed_order(
    platform: Platform,
    *,
    client_id: str,
    quantity: str,
    pair: str = "EUR/USD",
    at: dt.datetime,
) -> str:
    """An order placed with the LP, audited as `order:placed` (the hook surveillance listens on)."""
    conversation_id = conversation(platform)
    with unit_of_work(platform.sessions) as session:
        order = Order(
            ref=new_ref(),
            conversation_id=conversation_id,
            client_id=client_id,
            state="placed",
            side="buy",
            pair=pair,
            dealt_currency=pair[:3],
            quantity=Decimal(quantity),
            order_type="market",
            ticket_hash="0" * 64,
            created_at=at,
            placed_at=at,
        )
        session.add(order)
        session.flush()
        record(
            session,
            event=AuditEvent.ORDER_PLACED,
            actor=f"user:{client_id}",
            subject=f"order:{order.id}",
            payload={"ref": order.ref},
        )
        return order.id
