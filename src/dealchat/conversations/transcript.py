"""Messages as plaintext for readers below the desk (surveillance): the `MessageSource` port.

Bodies are opened with the desk's envelope; an erased body reads as `bodies.ERASED`. A message
stored in this transaction is handed over as the desk had it (`remember`): surveillance scans a
new message as it is recorded, and re-reading and decrypting what was just written bought nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from dealchat.conversations import bodies
from dealchat.conversations.context import Desk
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import per_transaction
from dealchat.identity.models import ChatIdentity, User
from dealchat.surveillance.interfaces import StoredMessage

_COLUMNS = (Message, Conversation.channel, User.id, User.username)


class Transcript:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    def _select(self) -> Select[Message, str, str, str]:
        return (
            select(*_COLUMNS)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .outerjoin(
                ChatIdentity,
                and_(
                    ChatIdentity.channel == Conversation.channel,
                    ChatIdentity.external_id == Message.sender_id,
                ),
            )
            .outerjoin(User, User.id == ChatIdentity.user_id)
        )

    def _stored(self, session: Session, rows: Sequence[Any]) -> list[StoredMessage]:
        return [
            StoredMessage(
                id=message.id,
                conversation_id=message.conversation_id,
                channel=channel,
                direction=message.direction,
                sender_id=message.sender_id,
                text=bodies.text_of(session, self._desk, message),
                created_at=message.created_at,
                user_id=user_id,
                username=username,
            )
            for message, channel, user_id, username in rows
        ]

    def remembered(self, session: Session, message_id: str) -> StoredMessage | None:
        held: StoredMessage | None = session.info.get(_JUST_STORED, {}).get(message_id)
        return held

    def message(self, session: Session, message_id: str) -> StoredMessage | None:
        held = self.remembered(session, message_id)
        if held is not None:
            return held
        rows = session.execute(self._select().where(Message.id == message_id)).all()
        found = self._stored(session, rows)
        return found[0] if found else None

    def around(
        self, session: Session, message_id: str, *, before: int, after: int
    ) -> list[StoredMessage]:
        anchor = session.get(Message, message_id)
        if anchor is None:
            return []
        key = (Message.created_at, Message.id)
        same = self._select().where(Message.conversation_id == anchor.conversation_id)
        earlier = session.execute(
            same.where(_before(anchor)).order_by(*(c.desc() for c in key)).limit(before)
        ).all()
        later = session.execute(same.where(_after(anchor)).order_by(*key).limit(after)).all()
        this = session.execute(same.where(Message.id == anchor.id)).all()
        return self._stored(session, [*reversed(earlier), *this, *later])

    def page(
        self, session: Session, *, since: dt.datetime, after_id: str | None, limit: int
    ) -> list[StoredMessage]:
        query = self._select().where(Message.created_at >= since)
        if after_id is not None:
            last = session.get(Message, after_id)
            if last is not None:
                query = query.where(_after(last))
        rows = session.execute(query.order_by(Message.created_at, Message.id).limit(limit)).all()
        return self._stored(session, rows)


def remember(session: Session, message: StoredMessage) -> None:
    """A message stored in this transaction, with its plaintext, for `Transcript.message`."""
    session.info.setdefault(_JUST_STORED, {})[message.id] = message


_JUST_STORED = per_transaction("dealchat_messages_stored")  # id -> StoredMessage


def _before(anchor: Message) -> ColumnElement[bool]:
    return or_(
        Message.created_at < anchor.created_at,
        and_(Message.created_at == anchor.created_at, Message.id < anchor.id),
    )


def _after(anchor: Message) -> ColumnElement[bool]:
    return or_(
        Message.created_at > anchor.created_at,
        and_(Message.created_at == anchor.created_at, Message.id > anchor.id),
    )
