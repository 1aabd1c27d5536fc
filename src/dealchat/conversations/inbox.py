"""The desk's list of conversations: the ones the reader may see, latest first.

Who may see a conversation is the access policy's grants of `conversation:read`, applied to the
conversation's client (its desk, region, client book and relationship manager) in SQL, so the
list never reads a conversation the reader may not: an unconditioned grant sees every one
(unlinked chats included); a conditioned grant (`{"rm": {"self"}}`, `{"desk": {"FX-LDN"}}`)
sees the conversations whose linked client matches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from dealchat.access.policy import SELF, Actor, Grant
from dealchat.access.rights import Right
from dealchat.channels.outbox import PENDING, OutboxItem
from dealchat.controls.models import Hold
from dealchat.conversations import bodies
from dealchat.conversations.context import Desk
from dealchat.conversations.models import Conversation, Message, ReadMark
from dealchat.identity.models import User
from dealchat.orders import lifecycle
from dealchat.orders.models import Order

OPEN_ORDER_STATES = ("awaiting_confirmation", "held", *sorted(lifecycle.WORKING))
PREVIEW = 80  # characters of the last message shown in the list


def resource_of(client: User | None) -> Mapping[str, str]:
    """The attributes access decisions read for a conversation: its client's."""
    return client.attributes() if client is not None else {}


def _grant_filter(grant: Grant, client: type[User], me: str) -> ColumnElement[bool]:
    columns = {
        "desk": client.desk,
        "region": client.region,
        "client_book": client.client_book,
        "rm": client.owner_id,
    }
    parts: list[ColumnElement[bool]] = []
    for name, allowed in grant.conditions.items():
        column = columns.get(name)
        if column is None:
            return false()
        values = {me if value == SELF else value for value in allowed}
        parts.append(column.in_(sorted(values)))
    return and_(*parts)


def visible(actor: Actor, client: type[User]) -> ColumnElement[bool]:
    """SQL: the conversations (joined outer to their client as `client`) `actor` may read."""
    if not actor.internal:
        return false()
    grants = [g for g in actor.grants if g.right == Right.CONVERSATION_READ]
    if any(not g.conditions for g in grants):
        return true()
    if not grants:
        return false()
    return or_(*(_grant_filter(g, client, actor.user_id) for g in grants))


@dataclass(frozen=True)
class Row:
    id: str
    client: str
    channel: str
    last_text: str
    last_at: dt.datetime | None
    unread: int
    open_orders: int
    open_holds: int
    undelivered: int
    handled_by: str | None


def rows(session: Session, desk: Desk, actor: Actor, *, limit: int = 100) -> list[Row]:
    """The conversations `actor` may read, most recently active first."""
    client = aliased(User)
    handler = aliased(User)
    query = (
        select(Conversation, client, handler, Message)
        .outerjoin(client, client.id == Conversation.client_id)
        .outerjoin(handler, handler.id == Conversation.handled_by_id)
        .outerjoin(
            Message,
            and_(Message.conversation_id == Conversation.id, Message.seq == Conversation.last_seq),
        )
        .where(visible(actor, client), Conversation.last_seq > 0)
        .order_by(Conversation.updated_at.desc().nulls_last(), Conversation.id)
        .limit(limit)
    )
    found = session.execute(query).all()
    ids = [conversation.id for conversation, *_ in found]
    orders, holds, undelivered = _counts(session, ids)
    unread = _unread(session, ids, actor.user_id)
    return [
        Row(
            id=conversation.id,
            client=who.username if who is not None else "(not linked)",
            channel=conversation.channel,
            last_text=_preview(session, desk, last),
            last_at=conversation.updated_at,
            unread=unread.get(conversation.id, 0),
            open_orders=orders.get(conversation.id, 0),
            open_holds=holds.get(conversation.id, 0),
            undelivered=undelivered.get(conversation.id, 0),
            handled_by=None if handling is None else handling.shown_name,
        )
        for conversation, who, handling, last in found
    ]


def _unread(session: Session, ids: list[str], user_id: str) -> dict[str, int]:
    """Per conversation, the client's messages after the reader's read mark: what the bot or
    the desk sent is not news to the desk."""
    if not ids:
        return {}
    read = (
        select(ReadMark.seq)
        .where(ReadMark.conversation_id == Message.conversation_id, ReadMark.user_id == user_id)
        .scalar_subquery()
    )
    counted = session.execute(
        select(Message.conversation_id, func.count())
        .where(
            Message.conversation_id.in_(ids),
            Message.direction == "in",
            Message.seq > func.coalesce(read, 0),
        )
        .group_by(Message.conversation_id)
    ).all()
    return {c: int(n) for c, n in counted}


def _preview(session: Session, desk: Desk, last: Message | None) -> str:
    """The conversation's last message, on one line, cut to PREVIEW characters."""
    if last is None:
        return ""
    text = bodies.text_of(session, desk, last).replace("\n", " ")
    return text if len(text) <= PREVIEW else text[: PREVIEW - 1] + "…"


def _counts(
    session: Session, ids: list[str]
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    if not ids:
        return {}, {}, {}
    orders = session.execute(
        select(Order.conversation_id, func.count())
        .where(Order.conversation_id.in_(ids), Order.state.in_(OPEN_ORDER_STATES))
        .group_by(Order.conversation_id)
    ).all()
    holds = session.execute(
        select(Order.conversation_id, func.count())
        .join(Hold, Hold.order_id == Order.id)
        .where(Order.conversation_id.in_(ids), Hold.state == "open")
        .group_by(Order.conversation_id)
    ).all()
    pending = session.execute(
        select(OutboxItem.conversation_id, func.count())
        .where(OutboxItem.conversation_id.in_(ids), OutboxItem.state == PENDING)
        .group_by(OutboxItem.conversation_id)
    ).all()
    return (
        {c: int(n) for c, n in orders},
        {c: int(n) for c, n in holds},
        {c: int(n) for c, n in pending},
    )


def mark_read(
    session: Session, *, conversation: Conversation, user_id: str, now: dt.datetime
) -> None:
    mark = session.get(ReadMark, (conversation.id, user_id))
    if mark is None:
        mark = ReadMark(conversation_id=conversation.id, user_id=user_id, seq=0, at=now)
        session.add(mark)
    mark.seq, mark.at = conversation.last_seq, now
