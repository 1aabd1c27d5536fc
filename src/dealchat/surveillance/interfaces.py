"""Ports surveillance reads through. The conversations package implements `MessageSource`
(conversations/transcript.py: plaintext opened from the sealed bodies); tests may use a fake."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class StoredMessage:
    id: str
    conversation_id: str
    channel: str
    direction: str  # in | out
    sender_id: str
    text: str
    created_at: dt.datetime
    user_id: str | None = None  # the linked user of the sender, when known
    username: str | None = None

    @property
    def participants(self) -> frozenset[str]:
        """What a policy's participant filters compare with: sender id and username."""
        return frozenset(name for name in (self.sender_id, self.username) if name)


class MessageSource(Protocol):
    def message(self, session: Session, message_id: str) -> StoredMessage | None:
        """One message with its plaintext, or None."""

    def remembered(self, session: Session, message_id: str) -> StoredMessage | None:
        """The message as this transaction stored it, without reading the database; None when
        it was not handed over (`message` reads it)."""

    def around(
        self, session: Session, message_id: str, *, before: int, after: int
    ) -> list[StoredMessage]:
        """The message with up to `before` earlier and `after` later ones of its conversation."""

    def page(
        self, session: Session, *, since: dt.datetime, after_id: str | None, limit: int
    ) -> list[StoredMessage]:
        """Messages created at or after `since`, oldest first, resuming after `after_id`."""
