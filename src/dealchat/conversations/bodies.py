"""Message bodies at rest: sealed under the conversation's data key, opened for the desk to read.

The database holds only ciphertext (`Message.body`); audit entries of messages commit to its
digest. A body whose data key was destroyed by retention or erasure reads as `ERASED`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from dealchat.conversations.context import Desk
from dealchat.conversations.models import Message
from dealchat.records.envelope import ContentErasedError, sealed_under, take_back

ERASED = "[content erased under the retention policy]"


def scope_of(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def _context(message_id: str) -> str:
    return f"message:{message_id}"


def seal_into(session: Session, desk: Desk, row: dict[str, Any], text: str) -> dict[str, Any]:
    """Seal `text` into the message `row` (`storing.message_row`: the id is bound to the
    ciphertext); returns the audit payload fields that commit to it."""
    sealed = desk.envelope.seal(
        session,
        scope=scope_of(row["conversation_id"]),
        context=_context(row["id"]),
        plaintext=text,
        now=desk.clock(),
    )
    row["text"], row["body"], row["data_key_id"] = None, sealed.blob, sealed.data_key_id
    return {"data_key": sealed.data_key_id, "body_sha256": sealed.digest}


def seal_and_store(
    session: Session, desk: Desk, row: dict[str, Any], text: str, store: Callable[[], bool]
) -> dict[str, Any] | None:
    """`seal_into`, then `store()` the row. When it is not stored (a redelivered message) the
    seal leaves nothing behind: its data key is not marked used at commit, unless this
    transaction sealed something else under it. None then."""
    scope = scope_of(row["conversation_id"])
    sealed_before = sealed_under(session, scope)
    commitment = seal_into(session, desk, row, text)
    if store():
        return commitment
    if not sealed_before:
        take_back(session, scope)
    return None


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
