"""Which stored content a legal hold (or an audit report's filter) covers, from the
conversations' and orders' side.

A hold on a client covers every conversation the client wrote in (through a linked chat
identity) or ordered in, and their orders; a hold on an order covers the order and the
conversation it was placed in; a hold on a conversation covers that conversation.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.conversations.bodies import scope_of
from dealchat.conversations.models import Conversation, Message
from dealchat.identity.models import ChatIdentity
from dealchat.orders.models import Order
from dealchat.records.retention_models import LegalHold


def scopes_for_hold(session: Session, hold: LegalHold) -> set[str]:
    return scopes_for(session, kind=hold.kind, target=hold.target)


def scopes_for(session: Session, *, kind: str, target: str) -> set[str]:
    """The audit subjects (`conversation:<id>`, `order:<id>`) a client, conversation or order
    covers; a conversation covers the orders placed in it too."""
    if kind == "conversation":
        orders = session.scalars(select(Order.id).where(Order.conversation_id == target)).all()
        return {scope_of(target)} | {f"order:{order_id}" for order_id in orders}
    if kind == "order":
        order = session.get(Order, target) or session.scalar(
            select(Order).where(Order.ref == target)
        )
        return set() if order is None else {f"order:{order.id}", scope_of(order.conversation_id)}
    if kind == "client":
        return _client_scopes(session, target)
    return set()


def _client_scopes(session: Session, client_id: str) -> set[str]:
    orders = session.execute(
        select(Order.id, Order.conversation_id).where(Order.client_id == client_id)
    ).all()
    written = session.scalars(
        select(Message.conversation_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .join(
            ChatIdentity,
            (ChatIdentity.channel == Conversation.channel)
            & (ChatIdentity.external_id == Message.sender_id),
        )
        .where(ChatIdentity.user_id == client_id, Message.direction == "in")
        .distinct()
    ).all()
    scopes = {f"order:{order_id}" for order_id, _ in orders}
    scopes |= {scope_of(conversation_id) for _, conversation_id in orders}
    return scopes | {scope_of(conversation_id) for conversation_id in written}
