"""A web chat page's feed: what the bank sent to the conversation after a number, the history
after a reload, and the page's acknowledgement that it showed them.

The web chat has no platform in between: the replies to her message reach the client in the
answer to her own POST, so they are stored as delivered in that request's transaction
(`delivery:succeeded` by `webchat-response`); anything sent later (a desk answer, a fill) has
reached her only when her page says it showed it (`acknowledge`), so only then is its outbox
item delivered and audited as `delivery:succeeded` by `webchat-page`. Who may follow a
conversation is settled by its two random ids, which only the client's browser holds (the
conversation's and the sender's). A sender not yet linked to an account gets what was sent in
the last minutes (a dropped connection resumed) and what her page has not shown yet; a linked
one gets her whole history back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.channels.outbox import DELIVERED, PENDING, OutboxItem
from dealchat.conversations import bodies
from dealchat.conversations.context import Desk
from dealchat.conversations.models import Conversation, Message
from dealchat.identity.models import User
from dealchat.identity.parties import find_identity
from dealchat.live.signals import conversation_topic, touched
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

CHANNEL = "webchat"
RESUME_WINDOW = dt.timedelta(minutes=5)
PAGE = 200  # messages per read


@dataclass(frozen=True)
class Line:
    seq: int
    direction: str  # in | out
    text: str
    author: str | None  # a bank user's name; None for the bot and the client
    link: str | None  # a secure link, only while the page has not shown it
    at: dt.datetime

    def as_dict(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "direction": self.direction,
            "text": self.text,
            "author": self.author,
            "link": self.link,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class Follower:
    """A web chat page following its conversation."""

    conversation_id: str
    linked: bool


def follower(session: Session, *, conversation: str, sender: str) -> Follower | None:
    """The page's conversation when `sender` wrote in it, else None (nothing to follow)."""
    found = session.scalar(
        select(Conversation.id)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(
            Conversation.channel == CHANNEL,
            Conversation.external_id == conversation,
            Message.direction == "in",
            Message.sender_id == sender,
        )
        .limit(1)
    )
    if found is None:
        return None
    return Follower(found, find_identity(session, CHANNEL, sender) is not None)


def after(session: Session, desk: Desk, who: Follower, seq: int, *, now: dt.datetime) -> list[Line]:
    """What the bank sent after message `seq` that this page may see, oldest first."""
    query = (
        select(Message, OutboxItem.state)
        .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
        .where(
            Message.conversation_id == who.conversation_id,
            Message.direction == "out",
            Message.seq > seq,
        )
        .order_by(Message.seq)
        .limit(PAGE)
    )
    rows = session.execute(query).all()
    return [
        _line(session, desk, message, pending=state == PENDING)
        for message, state in rows
        if who.linked or state == PENDING or now - message.created_at <= RESUME_WINDOW
    ]


def history(session: Session, desk: Desk, who: Follower) -> list[Line]:
    """The whole conversation (the latest PAGE messages) for a linked sender; nothing else."""
    if not who.linked:
        return []
    rows = session.execute(
        select(Message, OutboxItem.state)
        .outerjoin(OutboxItem, OutboxItem.message_id == Message.id)
        .where(Message.conversation_id == who.conversation_id, Message.seq.is_not(None))
        .order_by(Message.seq.desc())
        .limit(PAGE)
    ).all()
    return [
        _line(session, desk, message, pending=state == PENDING) for message, state in reversed(rows)
    ]


def _line(session: Session, desk: Desk, message: Message, *, pending: bool) -> Line:
    link = None
    if pending and message.link is not None:
        link = desk.sealer.open(message.link, context=f"message:{message.id}")
    author = None
    if message.author_id is not None:
        user = session.get(User, message.author_id)
        author = None if user is None else user.shown_name
    return Line(
        seq=message.seq or 0,
        direction=message.direction,
        text=bodies.text_of(session, desk, message),
        author=author,
        link=link,
        at=message.created_at,
    )


def pending(session: Session, who: Follower, seq: int) -> bool:
    """Whether any message up to `seq` still waits for the page to show it."""
    return (
        session.scalar(
            select(OutboxItem.id)
            .join(Message, Message.id == OutboxItem.message_id)
            .where(
                OutboxItem.conversation_id == who.conversation_id,
                OutboxItem.state == PENDING,
                Message.seq <= seq,
            )
            .limit(1)
        )
        is not None
    )


def acknowledge(session: Session, who: Follower, seq: int, *, now: dt.datetime) -> int:
    """The page showed everything up to `seq`: those messages are delivered. Returns how many."""
    items = session.scalars(
        select(OutboxItem)
        .join(Message, Message.id == OutboxItem.message_id)
        .where(
            OutboxItem.conversation_id == who.conversation_id,
            OutboxItem.state == PENDING,
            Message.seq <= seq,
        )
        .order_by(Message.seq)
        .with_for_update(of=OutboxItem)
    ).all()
    for item in items:
        item.state, item.finished_at, item.attempts = DELIVERED, now, item.attempts + 1
        record(
            session,
            event=AuditEvent.DELIVERY_SUCCEEDED,
            actor="webchat-page",
            subject=f"conversation:{who.conversation_id}",
            payload={"outbox": item.id, "channel": CHANNEL, "attempt": item.attempts},
        )
    if items:  # the desk's open transcript says it is delivered now
        touched(session, conversation_topic(who.conversation_id))
    return len(items)
