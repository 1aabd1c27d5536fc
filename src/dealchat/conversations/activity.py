"""A conversation's running number: each message takes the next one, in the transaction that
stores it, and the change is published to the pages following the conversation after commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealchat.conversations.models import Conversation, Message
from dealchat.identity.models import ChatIdentity
from dealchat.live.signals import conversation_topic, touched
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import Queued


def number(session: Session, conversation_id: str, now: dt.datetime) -> int:
    """The next message number of the conversation. One UPDATE ... RETURNING: the row stays
    locked until commit (PostgreSQL), so two writers never take the same number."""
    seq = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(last_seq=Conversation.last_seq + 1, updated_at=now)
        .returning(Conversation.last_seq)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    changed(session, conversation_id)
    return int(seq)


def changed(session: Session, conversation_id: str) -> None:
    """Tell the pages following the conversation (once this transaction commits)."""
    touched(session, conversation_topic(conversation_id))


def on_record(session: Session, entries: Sequence[Queued]) -> None:
    """The after-record hook (records/hooks.py): a chat linked to an account puts its
    conversations under that client on the desk (they were listed as not linked)."""
    for entry in entries:
        if entry.event != AuditEvent.IDENTITY_LINKED:
            continue
        identity = session.get(ChatIdentity, entry.subject.partition(":")[2])
        if identity is None:
            continue
        written = select(Message.conversation_id).where(
            Message.sender_id == identity.external_id, Message.direction == "in"
        )
        linked = session.scalars(
            update(Conversation)
            .where(
                Conversation.channel == identity.channel,
                Conversation.client_id.is_(None),
                Conversation.id.in_(written),
            )
            .values(client_id=identity.user_id, updated_at=entry.at)
            .returning(Conversation.id)
            .execution_options(synchronize_session=False)
        ).all()
        for conversation_id in linked:
            changed(session, conversation_id)
