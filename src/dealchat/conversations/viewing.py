"""A conversation opened at the desk: its transcript, its client's open business beside it.

Every opening is a read of the client's words, so it is audited (`conversation:opened`, with the
grant that allowed it) in the transaction that reads them. A secure link the bot sent is a bearer
token meant for the client alone: the desk sees that one was sent, never the link.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.channels.outbox import DELIVERED, OutboxItem
from dealchat.controls.models import Hold
from dealchat.conversations import bodies
from dealchat.conversations.context import Desk
from dealchat.conversations.inbox import OPEN_ORDER_STATES, mark_read
from dealchat.conversations.models import Conversation, Message
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

PAGE = 500  # the latest messages a page shows


@dataclass(frozen=True)
class Line:
    seq: int
    direction: str
    who: str
    text: str
    at: dt.datetime
    delivery: str | None  # out: pending | delivered | dead; None for the client's messages
    secure_link: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "direction": self.direction,
            "who": self.who,
            "text": self.text,
            "at": f"{self.at:%Y-%m-%d %H:%M:%S} UTC",
            "delivery": self.delivery,
            "secure_link": self.secure_link,
        }


@dataclass(frozen=True)
class Business:
    ref: str
    state: str
    summary: str
    held: bool


def open_for(
    session: Session,
    desk: Desk,
    actor: Actor,
    conversation: Conversation,
    *,
    allowed_by: str,
    now: dt.datetime,
) -> list[Line]:
    """The transcript for `actor`, audited as a read and marked read."""
    record(
        session,
        event=AuditEvent.CONVERSATION_OPENED,
        actor=actor.audit_name,
        subject=f"conversation:{conversation.id}",
        payload={"allowed_by": allowed_by, "up_to": conversation.last_seq},
    )
    mark_read(session, conversation=conversation, user_id=actor.user_id, now=now)
    return lines(session, desk, conversation, after=0)


def lines(session: Session, desk: Desk, conversation: Conversation, *, after: int) -> list[Line]:
    """Its messages after number `after` (the latest PAGE), oldest first."""
    rows = session.execute(
        select(Message, OutboxItem.state)
        .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
        .where(Message.conversation_id == conversation.id, Message.seq > after)
        .order_by(Message.seq.desc())
        .limit(PAGE)
    ).all()
    client = session.get(User, conversation.client_id) if conversation.client_id else None
    names: dict[str, str] = {}
    return [
        _line(session, desk, message, state, client=client, names=names)
        for message, state in reversed(rows)
    ]


def undelivered(session: Session, conversation: Conversation) -> tuple[int, dict[int, str]]:
    """Of the latest PAGE messages (those after the number returned: what a page shows), the
    bank's not delivered yet (`pending`) or failed (`dead`), by number."""
    latest = max((conversation.last_seq or 0) - PAGE, 0)
    rows = session.execute(
        select(Message.seq, OutboxItem.state)
        .join(OutboxItem, OutboxItem.message_id == Message.id)
        .where(
            Message.conversation_id == conversation.id,
            Message.seq > latest,
            OutboxItem.state != DELIVERED,
        )
        .order_by(Message.seq)
    ).all()
    return latest, {seq: state for seq, state in rows if seq is not None}


def _line(
    session: Session,
    desk: Desk,
    message: Message,
    state: str | None,
    *,
    client: User | None,
    names: dict[str, str],
) -> Line:
    if message.direction == "in":
        who = client.username if client is not None else "client (not linked)"
    elif message.author_id is None:
        who = "bot"
    else:
        if message.author_id not in names:
            author = session.get(User, message.author_id)
            names[message.author_id] = author.shown_name if author else message.author_id
        who = names[message.author_id]
    return Line(
        seq=message.seq or 0,
        direction=message.direction,
        who=who,
        text=bodies.text_of(session, desk, message),
        at=message.created_at,
        delivery=state if message.direction == "out" else None,
        secure_link=message.link is not None,
    )


def business(session: Session, conversation: Conversation) -> list[Business]:
    """The client's open tickets and orders in this conversation, and whether each is held."""
    orders = session.scalars(
        select(Order)
        .where(Order.conversation_id == conversation.id, Order.state.in_(OPEN_ORDER_STATES))
        .order_by(Order.created_at.desc())
        .limit(50)
    ).all()
    held = set(
        session.scalars(
            select(Hold.order_id).where(
                Hold.order_id.in_([o.id for o in orders]), Hold.state == "open"
            )
        )
    )
    return [Business(order.ref, order.state, _summary(order), order.id in held) for order in orders]


def _summary(order: Order) -> str:
    quantity = f"{order.quantity.normalize():,f}"
    what = order.pair or order.isin or ""
    price = "at market" if order.limit_price is None else f"limit {order.limit_price.normalize()}"
    tenor = f" {order.tenor}" if order.tenor else ""
    return f"{order.side.upper()} {quantity} {order.dealt_currency or ''} {what}{tenor} {price}"
