"""Conversations and their messages, inbound and outbound."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow

SEQ = BigInteger().with_variant(Integer, "sqlite")


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(512))  # Teams: serviceUrl|conversation id
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The desk (conversations/activity.py): each message takes the next number; the time of the
    # last change; the linked client once known; the bank user who took it over (None: the bot).
    last_seq: Mapped[int] = mapped_column(SEQ, default=0, server_default="0")
    updated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), index=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    handled_by_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))


class Message(Base):
    """Inbound messages carry the channel's message id, unique per conversation (idempotency).

    The text is stored only sealed (`body`: nonce||AES-GCM ciphertext under the conversation's
    data key `data_key_id`, see records/envelope.py); `text` holds plaintext only for rows written
    before encryption at rest existed and is never set now."""

    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("conversation_id", "channel_message_id"),
        UniqueConstraint("conversation_id", "seq"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    # Its number in the conversation (1, 2, ...): the order pages show and streams resume from.
    seq: Mapped[int | None] = mapped_column(SEQ)
    # A message a bank user wrote from the desk (None: the client's or the bot's).
    author_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    sender_id: Mapped[str] = mapped_column(String(128), index=True)
    text: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    data_key_id: Mapped[str | None] = mapped_column(ForeignKey("data_key.id"), index=True)
    link: Mapped[str | None] = mapped_column(Text)
    reply_to_id: Mapped[str | None] = mapped_column(ForeignKey("message.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Handling(Base):
    """Who had a conversation when: from a take-over to its hand-back (ended_at None: now)."""

    __tablename__ = "conversation_handling"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(200))


class ReadMark(Base):
    """How far a bank user has read a conversation (its unread count on the desk)."""

    __tablename__ = "conversation_read"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(SEQ, default=0)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
