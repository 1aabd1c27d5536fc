"""What goes with a conversation's content: the clear identifiers of erased conversations, and
chat identities nothing needs any more. Run by `dealchat retention run` after it destroyed the
expired data keys, in the same transaction.

- A message sealed under a destroyed data key (or a plain-text row from before encryption at
  rest, once its conversation's keys are all destroyed) keeps no sender handle (`sender_id` becomes
  `erased`), no platform message id (a WhatsApp id encodes the phone number), no sealed link and
  no legacy plain text; its outbox row keeps no delivery error (a platform's error may name the
  recipient).
- A conversation whose data keys are all destroyed keeps no platform address: `external_id`
  becomes `erased:<conversation id>` (unique, so the constraint holds), so a client who writes
  again from the same handle starts a new conversation.
- A chat identity (the link between a handle and a user) is deleted once it has not been used for
  the chat retention period and no message from its handle is kept: while a kept conversation
  holds its messages, holds and transcripts need it to name their writer. Its chat session may
  have ended long before (a new password ends it and keeps the row, `ended_at`).

An active legal hold keeps all three: a conversation a hold covers keeps its identifiers, and a
client or user on hold keeps their chat identities. Each sweep returns how many rows it changed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, case, delete, exists, literal, not_, or_, select, update
from sqlalchemy.orm import Session

from dealchat.channels.outbox import OutboxItem
from dealchat.conversations.holds import scopes_for_hold
from dealchat.conversations.models import Conversation, Message
from dealchat.identity.models import ChatIdentity
from dealchat.records.envelope_models import DataKey
from dealchat.records.retention import PERSON_KINDS, Sweep, active_holds, add_years

ERASED = "erased"
ERASED_PREFIX = "erased:"
SCOPE_PREFIX = "conversation:"


def _held_conversations(session: Session) -> set[str]:
    """The ids of the conversations an active hold covers."""
    scopes: set[str] = set()
    for hold in active_holds(session):
        scopes |= scopes_for_hold(session, hold) | {f"{hold.kind}:{hold.target}"}
    return {scope.removeprefix(SCOPE_PREFIX) for scope in scopes if scope.startswith(SCOPE_PREFIX)}


def scrub_messages(session: Session, now: dt.datetime) -> int:
    """Clear the identifiers of every message whose data key was destroyed; how many."""
    session.flush()
    held = _held_conversations(session)
    legacy = and_(  # plain text from before encryption at rest goes with its conversation
        Message.data_key_id.is_(None),
        Message.conversation_id.in_(select(Conversation.id).where(_all_keys_destroyed())),
    )
    erased_unheld = and_(
        or_(
            Message.data_key_id.in_(select(DataKey.id).where(DataKey.wrapped.is_(None))),
            legacy,
        ),
        Message.conversation_id.not_in(held),
    )
    session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.message_id.in_(select(Message.id).where(erased_unheld)),
            OutboxItem.last_error.is_not(None),
        )
        .values(last_error=None)
        .execution_options(synchronize_session=False)
    )
    left = or_(
        and_(Message.direction == "in", Message.sender_id != ERASED),
        Message.channel_message_id.is_not(None),
        Message.link.is_not(None),
        Message.text.is_not(None),
    )
    gone = session.execute(
        update(Message)
        .where(erased_unheld, left)
        .values(
            sender_id=case((Message.direction == "in", ERASED), else_=Message.sender_id),
            channel_message_id=None,
            link=None,
            text=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def _all_keys_destroyed() -> ColumnElement[bool]:
    """A condition on Conversation: it had a data key, and every one was destroyed."""
    keys = DataKey.scope == literal(SCOPE_PREFIX) + Conversation.id
    return and_(
        exists().where(keys, DataKey.wrapped.is_(None)),
        ~exists().where(keys, DataKey.wrapped.is_not(None)),
    )


def scrub_conversations(session: Session, now: dt.datetime) -> int:
    """Replace the platform address of every conversation whose data keys are all destroyed
    (and no hold covers) by `erased:<id>`; how many."""
    session.flush()
    held = _held_conversations(session)
    gone = session.execute(
        update(Conversation)
        .where(
            not_(Conversation.external_id.startswith(ERASED_PREFIX)),
            Conversation.id.not_in(held),
            _all_keys_destroyed(),
        )
        .values(external_id=literal(ERASED_PREFIX) + Conversation.id)
        .execution_options(synchronize_session=False)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def erase_identities(session: Session, *, chat_years: int, now: dt.datetime) -> int:
    """Delete the chat identities unused for `chat_years` whose handle wrote no kept message
    and whose user no hold keeps; how many."""
    session.flush()
    held_people = {hold.target for hold in active_holds(session) if hold.kind in PERSON_KINDS}
    cutoff = add_years(now, -chat_years)
    wrote = (
        exists()
        .where(
            Message.sender_id == ChatIdentity.external_id,
            Message.direction == "in",
            Conversation.id == Message.conversation_id,
            Conversation.channel == ChatIdentity.channel,
        )
        .correlate(ChatIdentity)
    )
    gone = session.execute(
        delete(ChatIdentity)
        .where(
            ChatIdentity.last_active_at <= cutoff,
            ChatIdentity.user_id.not_in(held_people),
            ~wrote,
        )
        .execution_options(synchronize_session=False)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def sweeps(chat_years: int) -> dict[str, Sweep]:
    """In this order: messages, then conversations, then the identities they freed."""
    return {
        "message_senders": scrub_messages,
        "conversation_addresses": scrub_conversations,
        "chat_identities": lambda session, now: erase_identities(
            session, chat_years=chat_years, now=now
        ),
    }
