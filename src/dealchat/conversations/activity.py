"""A conversation's running number: each message takes the next one, in the transaction that
stores it, and the change is published to the pages following the conversation after commit.

The row holds the last number given. A transaction takes the row's lock once (`hold`, on the
row it read `FOR UPDATE`, or the first `number`'s `UPDATE ... RETURNING`), numbers the rest of
its messages from there in memory, and writes the last number with one `UPDATE` when it
commits: two writers never take the same number, and a turn that stores an inbound message and
two replies writes the row once instead of three times. A savepoint rolled back after taking
numbers leaves a gap (numbers stay unique and in order; none is reused).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.orm import Session

from dealchat.conversations.models import Conversation, Message
from dealchat.db.driver import Prepared
from dealchat.db.session import per_transaction
from dealchat.identity.models import ChatIdentity
from dealchat.live.signals import conversation_topic, touched
from dealchat.records.events import AuditEvent
from dealchat.records.leaf import Queued


@dataclass
class _Numbers:
    given: int  # the last number this transaction gave
    written: int  # the number the row holds in this transaction
    at: dt.datetime | None = None  # when the last one was given


_NUMBERED = per_transaction("dealchat_conversation_numbers")


def hold(session: Session, conversation: Conversation) -> None:
    """Number the conversation's messages from its row, which the caller read `FOR UPDATE` (or
    inserted) in this transaction: no statement until the commit writes the last one."""
    numbers = session.info.setdefault(_NUMBERED, {})
    if conversation.id not in numbers:
        numbers[conversation.id] = _Numbers(conversation.last_seq, conversation.last_seq)


def following(session: Session, conversation_id: str) -> int:
    """The number `number` gives next to a conversation this transaction `hold`s, taking none."""
    numbers: dict[str, _Numbers] = session.info[_NUMBERED]
    return numbers[conversation_id].given + 1


def number(session: Session, conversation_id: str, now: dt.datetime) -> int:
    """The next message number of the conversation. The first of a transaction not `hold`ing
    the row is one `UPDATE ... RETURNING`: the row stays locked until commit (PostgreSQL)."""
    numbers: dict[str, _Numbers] = session.info.setdefault(_NUMBERED, {})
    held = numbers.get(conversation_id)
    if held is None:
        values = {"conversation": conversation_id, "at": now}
        [(seq,)] = _TAKE_NEXT.fetch(session.connection(), values)
        held = numbers[conversation_id] = _Numbers(int(seq), int(seq), now)
    else:
        held.given, held.at = held.given + 1, now
    changed(session, conversation_id)
    return held.given


def _write_at_commit(session: Session) -> None:
    """The last number each conversation gave in this transaction, onto its (locked) row."""
    if session.in_nested_transaction():
        return
    for conversation_id, held in sorted(session.info.get(_NUMBERED, {}).items()):
        if held.given == held.written:
            continue
        values = {"conversation": conversation_id, "seq": held.given, "at": held.at}
        _WRITE_LAST.change(session.connection(), values)
        held.written = held.given


# Compiled once and run on the driver (db.driver): no ORM bookkeeping, no execution context.
_CONVERSATION = cast(Table, Conversation.__table__)
_WRITE_LAST = Prepared(
    update(_CONVERSATION)
    .where(_CONVERSATION.c.id == bindparam("conversation"))
    .values(last_seq=bindparam("seq"), updated_at=bindparam("at"))
)
_TAKE_NEXT = Prepared(
    update(_CONVERSATION)
    .where(_CONVERSATION.c.id == bindparam("conversation"))
    .values(last_seq=_CONVERSATION.c.last_seq + 1, updated_at=bindparam("at"))
    .returning(_CONVERSATION.c.last_seq)
)


event.listen(Session, "before_commit", _write_at_commit)


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
