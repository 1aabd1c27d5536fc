"""A person in the conversation: a dealer or relationship manager replies, takes over, hands back.

A reply from the desk is stored, sealed, audited (`message:sent` by the bank user) and queued
for the client's own channel like every message the bank sends, and surveillance reads it as it
reads a client's words. Taking a conversation over pauses the bot for what a person should
answer (help, small talk, anything it does not understand); orders, quotes, confirmations and
cancels typed meanwhile still go through the same parser, controls and step-up. Who had the
conversation when is in `conversation_handling` and in the log.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import activity, bodies
from dealchat.conversations import desk as desk_module
from dealchat.conversations.context import Desk
from dealchat.conversations.models import Conversation, Handling, Message
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.nlu.language import language_of
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

MAX_REPLY = 4000
TAKEN_OVER = "You are now talking with {name} of {desk}."
HANDED_BACK = "{name} has handed you back to the bank's assistant. Type help to see what it can do."
_ZH = {
    TAKEN_OVER: "您现在与{desk}的{name}对话。",
    HANDED_BACK: "{name}已将对话交回银行助手。输入 help 查看它能做什么。",
}


def label_of(user: User) -> tuple[str, str]:
    """How the client sees a bank user: their name and their desk."""
    return user.shown_name, f"the {user.desk} desk" if user.desk else "the bank's desk"


def clean_reply(text: str) -> str:
    """A reply from the desk: 1-4,000 characters, no control characters but line breaks."""
    cleaned = text.strip().replace("\r\n", "\n")
    bad = any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in cleaned)
    if not cleaned or len(cleaned) > MAX_REPLY or bad:
        raise DealchatError(
            ErrorCode.BAD_REQUEST,
            f"A reply is 1 to {MAX_REPLY} characters, without control characters",
            http_status=400,
        )
    return cleaned


def reply(
    session: Session, desk: Desk, conversation: Conversation, author: User, text: str
) -> Message:
    """The bank user's words to the client, on her channel, recorded like every message."""
    return desk_module.notify(
        session,
        desk=desk,
        conversation_id=conversation.id,
        answer=OutboundMessage(text=clean_reply(text)),
        author=author,
    )


def take_over(
    session: Session, desk: Desk, conversation: Conversation, user: User, now: dt.datetime
) -> None:
    """`user` has the conversation from now; the client is told who she is talking with."""
    if conversation.handled_by_id == user.id:
        return
    if conversation.handled_by_id is not None:
        holder = session.get(User, conversation.handled_by_id)
        raise DealchatError(
            ErrorCode.CONFLICT,
            f"{holder.shown_name if holder else 'Someone'} has this conversation: "
            "they hand it back first",
            http_status=409,
        )
    handling = Handling(conversation_id=conversation.id, user_id=user.id, started_at=now)
    session.add(handling)
    conversation.handled_by_id = user.id
    session.flush()
    record(
        session,
        event=AuditEvent.CONVERSATION_TAKEN_OVER,
        actor=f"user:{user.id}",
        subject=f"conversation:{conversation.id}",
        payload={"handling": handling.id, "by": user.id, "at": now},
    )
    _announce(session, desk, conversation, TAKEN_OVER, user)


def hand_back(
    session: Session, desk: Desk, conversation: Conversation, user: User, now: dt.datetime
) -> None:
    """The bot answers again; the handling ends (by whoever hands it back)."""
    if conversation.handled_by_id is None:
        raise DealchatError(ErrorCode.CONFLICT, "Nobody has this conversation", http_status=409)
    holder = session.get_one(User, conversation.handled_by_id)
    handling = session.scalar(
        select(Handling).where(
            Handling.conversation_id == conversation.id, Handling.ended_at.is_(None)
        )
    )
    if handling is not None:
        handling.ended_at, handling.ended_by = now, f"user:{user.id}"
    conversation.handled_by_id = None
    record(
        session,
        event=AuditEvent.CONVERSATION_HANDED_BACK,
        actor=f"user:{user.id}",
        subject=f"conversation:{conversation.id}",
        payload={"handling": handling.id if handling else None, "had": holder.id, "at": now},
    )
    _announce(session, desk, conversation, HANDED_BACK, holder)


def _announce(
    session: Session, desk: Desk, conversation: Conversation, template: str, user: User
) -> None:
    name, where = label_of(user)
    text = template.format(name=name, desk=where)
    if _speaks_chinese(session, desk, conversation):
        text = _ZH[template].format(name=name, desk=user.desk or "银行交易台")
    desk_module.notify(
        session, desk=desk, conversation_id=conversation.id, answer=OutboundMessage(text=text)
    )
    activity.changed(session, conversation.id)


def _speaks_chinese(session: Session, desk: Desk, conversation: Conversation) -> bool:
    last = session.scalar(
        select(Message)
        .where(Message.conversation_id == conversation.id, Message.direction == "in")
        .order_by(Message.seq.desc())
        .limit(1)
    )
    return last is not None and language_of(bodies.text_of(session, desk, last)) is not None
