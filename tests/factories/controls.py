"""Clients with attributes, internal approvers with grants, and tickets for the controls."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, Grant
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.conversations.models import Conversation
from dealchat.db.base import new_id
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.orders import service as orders
from dealchat.orders.models import Order
from tests.factories.identity import make_user


def client(
    platform: Platform,
    username: str,
    *,
    desk: str | None = None,
    region: str | None = None,
    owner_id: str | None = None,
) -> str:
    made = make_user(platform, username)
    with unit_of_work(platform.sessions) as session:
        user = session.get(User, made.id)
        assert user is not None
        user.desk, user.region, user.owner_id = desk, region, owner_id
    return made.id


def approver(platform: Platform, username: str, *, desk: str | None = None) -> Actor:
    """An internal user with order:approve (only for `desk` when given)."""
    made = make_user(platform, username, kind="internal")
    conditions = {} if desk is None else {"desk": frozenset({desk})}
    grants = (
        Grant(Right.ORDER_APPROVE, "desk-head", conditions),
        Grant(Right.RULE_EDIT, "controls"),
        Grant(Right.RULE_APPROVE, "controls"),
    )
    return Actor(made.id, username, "internal", grants, ("password", "totp"))


def ticket(
    session: Session,
    *,
    client_id: str,
    quantity: str = "1000000",
    pair: str = "EUR/USD",
    dealt: str = "EUR",
    counterparty: str | None = None,
    tenor: str = "SPOT",
    now: dt.datetime,
    conversation_id: str | None = None,
) -> Order:
    if conversation_id is None:
        conversation = Conversation(channel="webchat", external_id=new_id())
        session.add(conversation)
        session.flush()
        conversation_id = conversation.id
    return orders.create_ticket(
        session,
        conversation_id=conversation_id,
        client_id=client_id,
        ticket_fields={
            "side": "buy",
            "pair": pair,
            "isin": None,
            "dealt_currency": dealt,
            "quantity": Decimal(quantity),
            "tenor": tenor,
            "order_type": "market",
            "limit_price": None,
            "counterparty": counterparty,
            "quote_id": None,
        },
        now=now,
    )
