"""A document sent through the chat's upload link, in one transaction: the link is spent (once,
whatever the outcome), the uploader's right is decided again (and access-logged), then the upload
is stored sealed or its refusal audited, and the bot confirms it in the conversation.

The checks and the virus scan ran before, outside the transaction (`documents.inspect`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Desk
from dealchat.conversations.desk import notify
from dealchat.conversations.models import Conversation
from dealchat.documents import service as documents
from dealchat.documents.models import Document
from dealchat.documents.sniff import RefusedError
from dealchat.identity.models import User
from dealchat.records import reports_links

PURPOSE = "upload"
NOT_ALLOWED = RefusedError(
    "right", 403, "Your account may not upload documents here. Please ask your dealer."
)


@dataclass(frozen=True)
class Linked:
    conversation_id: str
    user_id: str


@dataclass(frozen=True)
class Received:
    document: Document | None
    refusal: RefusedError | None
    filename: str | None = None


def linked(session: Session, *, token: str, now: dt.datetime) -> Linked:
    """Who and where a live upload link is for, without using it; LookupError if it is not live."""
    if not 20 <= len(token) <= 100:
        raise LookupError("this upload link is not valid (used, expired or not yours)")
    params = reports_links.peek(session, token=token, now=now, purpose=PURPOSE)
    return Linked(str(params["conversation"]), str(params["user"]))


def receive(
    session: Session,
    *,
    desk: Desk,
    token: str,
    outcome: documents.Accepted | RefusedError,
    size: int | None,
    source_ip: str | None,
) -> Received:
    """Spend the link, re-check the right, then store (and confirm in chat) or audit the refusal.
    LookupError when the link was used or expired meanwhile (nothing is recorded then)."""
    now = desk.clock()
    params = reports_links.spend(session, token=token, user_id=None, now=now, purpose=PURPOSE)
    where = Linked(str(params["conversation"]), str(params["user"]))
    user = session.get(User, where.user_id)
    if user is None or not _allowed(session, user, source_ip):
        outcome = NOT_ALLOWED
    actor = f"user:{where.user_id}"
    if isinstance(outcome, RefusedError):
        documents.refuse(
            session,
            refusal=outcome,
            conversation_id=where.conversation_id,
            user_id=where.user_id,
            actor=actor,
            size=size,
        )
        return Received(None, outcome)
    document = documents.store(
        session,
        envelope=desk.envelope,
        accepted=outcome,
        conversation_id=where.conversation_id,
        user_id=where.user_id,
        actor=actor,
        now=now,
    )
    _confirm(session, desk, document, outcome.checked.filename)
    return Received(document, None, outcome.checked.filename)


def _allowed(session: Session, user: User, source_ip: str | None) -> bool:
    decision = access.decide(
        session,
        actor=access.actor_for(session, user),
        right=Right.DOCUMENT_UPLOAD,
        context=access.AccessContext("web", source_ip, "POST /documents/links/<token>"),
    )
    return decision.allowed


def _confirm(session: Session, desk: Desk, document: Document, filename: str) -> None:
    """The bot says so in the conversation (stored sealed and audited like every bot message)."""
    if session.get(Conversation, document.conversation_id) is None:
        return
    text = replies.DOCUMENT_RECEIVED.format(
        ref=document.ref,
        name=filename,
        label=documents.label_of(document),
        size=documents.size_text(document.size),
    )
    notify(
        session, desk=desk, conversation_id=document.conversation_id, answer=OutboundMessage(text)
    )
