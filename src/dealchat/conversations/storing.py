"""Messages written with plain Core statements, not the unit of work: a turn's inbound message
in one `INSERT ... ON CONFLICT DO NOTHING RETURNING` (which is also its idempotency check) and
its replies by one driver call (`db.bulk`). A row is a dict of every column of `message`."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from dealchat.conversations.models import Message
from dealchat.db.base import new_id, utcnow
from dealchat.db.driver import Prepared

MESSAGE = cast(Table, Message.__table__)
_FIRST: dict[str, Prepared] = {}  # dialect -> the inbound message's insert (on the driver)


def message_row(
    *,
    conversation_id: str,
    seq: int,
    direction: str,
    sender_id: str,
    channel_message_id: str | None = None,
    author_id: str | None = None,
    reply_to_id: str | None = None,
    position: int = 0,
) -> dict[str, Any]:
    """A new message's columns, its id and time given now; `bodies.seal_into` fills its body."""
    return {
        "id": new_id(),
        "conversation_id": conversation_id,
        "seq": seq,
        "author_id": author_id,
        "direction": direction,
        "channel_message_id": channel_message_id,
        "sender_id": sender_id,
        "text": None,
        "body": None,
        "data_key_id": None,
        "link": None,
        "reply_to_id": reply_to_id,
        "position": position,
        "created_at": utcnow(),
    }


def insert_first(session: Session, row: dict[str, Any]) -> bool:
    """Insert an inbound message unless its conversation already has its channel message id
    (a redelivery: then nothing is written). True when it was inserted."""
    connection = session.connection()
    dialect = connection.dialect.name
    prepared = _FIRST.get(dialect)
    if prepared is None:
        make = postgresql.insert if dialect == "postgresql" else sqlite.insert
        prepared = _FIRST[dialect] = Prepared(
            make(MESSAGE)
            .on_conflict_do_nothing(index_elements=["conversation_id", "channel_message_id"])
            .returning(MESSAGE.c.id)
        )
    return bool(prepared.fetch(connection, row))


def attached(session: Session, row: dict[str, Any]) -> Message:
    """The stored row as a persistent `Message` of the session, without reading it back."""
    message = Message(**row)
    make_transient_to_detached(message)
    session.add(message)
    return message
