"""The outbox: every bot message to a chat is queued here in the transaction that stores it, and
delivered afterwards by the dispatcher (`outbox_dispatch`). Nothing is sent before commit, and
nothing committed is lost if the process dies before sending (at-least-once, in order per
conversation). With a bus, each queued delivery is also announced once its transaction commits
(`announce_with`: the bus's outbound notice, channels/bus_deliveries.py), so any node sends it
at once; the row stays the truth, and the dispatcher's sweep finds whatever no notice brought."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow
from dealchat.db.bulk import insert_all
from dealchat.db.session import after_commit
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
# Channels whose client fetches its messages itself (the web chat page follows its conversation
# and acknowledges what it showed, conversations/feed.py): the dispatcher leaves them alone.
PULLED = frozenset({"webchat"})
Announce = Callable[[str, str], None]  # (outbox id, channel), after commit
_ANNOUNCE = "dealchat_outbox_announce"


class OutboxItem(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("message.id"), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


_OUTBOX = cast(Table, OutboxItem.__table__)


def enqueue(
    session: Session,
    *,
    message_ids: Sequence[str],
    conversation_id: str,
    channel: str,
    now: dt.datetime | None = None,
    delivered_by: str | None = None,
) -> list[str]:
    """Queue stored bot messages of one conversation for delivery, in order, in the caller's
    transaction (one INSERT); returns the outbox ids. `delivered_by`: the messages already reach
    the client in the answer to her own request (the web chat's replies), so they are stored as
    delivered, audited `delivery:succeeded` by that actor in this same transaction, and nobody
    delivers them again."""
    at, created = now or utcnow(), utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "message_id": message_id,
            "conversation_id": conversation_id,
            "channel": channel,
            "state": PENDING,
            "attempts": 0,
            "next_attempt_at": at,
            "last_error": None,
            "created_at": created,
            "finished_at": None,
        }
        for message_id in message_ids
    ]
    for row in rows:
        if delivered_by is not None:
            row["state"], row["attempts"], row["finished_at"] = DELIVERED, 1, at
            _record_delivered(session, row["id"], conversation_id, channel, delivered_by)
        elif channel not in PULLED:
            _announce_after_commit(session, row["id"], channel)
    insert_all(session, _OUTBOX, rows)
    return [row["id"] for row in rows]


def _record_delivered(
    session: Session, item_id: str, conversation_id: str, channel: str, actor: str
) -> None:
    record(
        session,
        event=AuditEvent.DELIVERY_SUCCEEDED,
        actor=actor,
        subject=f"conversation:{conversation_id}",
        payload={"outbox": item_id, "channel": channel, "attempt": 1},
    )


def announce_with(sessions: sessionmaker[Session], announce: Announce | None) -> None:
    """Every session of `sessions` calls `announce(item id, channel)` for each delivery it
    queued, once its transaction has committed (never on rollback); None stops it."""
    info = {key: value for key, value in sessions.kw.get("info", {}).items() if key != _ANNOUNCE}
    if announce is not None:
        info[_ANNOUNCE] = announce
    sessions.configure(info=info)


def _announce_after_commit(session: Session, item_id: str, channel: str) -> None:
    announce: Announce | None = session.info.get(_ANNOUNCE)
    if announce is not None:
        after_commit(session, partial(announce, item_id, channel))


def requeue(session: Session, *, item_id: str, actor: str, now: dt.datetime) -> OutboxItem:
    """Send a dead-lettered message again (after the cause was fixed), with fresh tries. Audited."""
    item = session.get(OutboxItem, item_id)
    if item is None or item.state != DEAD:
        raise LookupError(f"no dead-lettered outbox item {item_id}")
    item.state, item.attempts, item.next_attempt_at, item.finished_at = PENDING, 0, now, None
    record(
        session,
        event=AuditEvent.DELIVERY_REQUEUED,
        actor=actor,
        subject=f"conversation:{item.conversation_id}",
        payload={"outbox": item.id, "channel": item.channel, "last_error": item.last_error},
    )
    return item
