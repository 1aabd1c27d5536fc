"""Marking what a transaction changed, and publishing it once the transaction commits."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

_TOUCHED = "dealchat_live_touched"


def conversation_topic(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def touched(session: Session, *topics: str) -> None:
    """Say that this transaction changes `topics`; published only if it commits."""
    session.info.setdefault(_TOUCHED, set()).update(topics)


def install(factory: sessionmaker[Session], publish: Callable[[Iterable[str]], None]) -> None:
    """Publish each committed transaction's topics (a rolled back one publishes nothing)."""

    def committed(session: Session) -> None:
        if session.in_nested_transaction():
            return
        topics = session.info.pop(_TOUCHED, None)
        if topics:
            publish(topics)

    def rolled_back(session: Session) -> None:
        if not session.in_nested_transaction():
            session.info.pop(_TOUCHED, None)

    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_rollback", rolled_back)
