"""Message bodies at rest: sealed under the conversation's data key, opened for the desk to read.

The database holds only ciphertext (`Message.body`); audit entries of messages commit to its
digest. A body whose data key was destroyed by retention or erasure reads as `ERASED`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dealchat.conversations.context import Desk
from dealchat.conversations.models import Message
from dealchat.db.base import new_id
from dealchat.records.envelope import ContentErasedError

ERASED = "[content erased under the retention policy]"


def scope_of(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def _context(message_id: str) -> str:
    return f"message:{message_id}"


def seal_into(session: Session, desk: Desk, message: Message, text: str) -> dict[str, Any]:
    """Seal `text` into `message` (given an id now, since the id is bound to the ciphertext);
    returns the audit payload fields that commit to it."""
    if message.id is None:
        message.id = new_id()
    sealed = desk.envelope.seal(
        session,
        scope=scope_of(message.conversation_id),
        context=_context(message.id),
        plaintext=text,
        now=desk.clock(),
    )
    message.text, message.body, message.data_key_id = None, sealed.blob, sealed.data_key_id
    return {"data_key": sealed.data_key_id, "body_sha256": sealed.digest}


def text_of(session: Session, desk: Desk, message: Message) -> str:
    """The message's words; `ERASED` once its data key is destroyed."""
    if message.body is None or message.data_key_id is None:
        return message.text or ""  # a row from before encryption at rest
    try:
        return desk.envelope.open(
            session,
            data_key_id=message.data_key_id,
            blob=message.body,
            context=_context(message.id),
        )
    except ContentErasedError:
        return ERASED
