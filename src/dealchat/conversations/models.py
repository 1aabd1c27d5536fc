"""Conversations and their messages, inbound and outbound."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("channel", "external_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(512))  # Teams: serviceUrl|conversation id
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Message(Base):
    """Inbound messages carry the channel's message id, unique per conversation (idempotency).

    The text is stored only sealed (`body`: nonce||AES-GCM ciphertext under the conversation's
    data key `data_key_id`, see records/envelope.py); `text` holds plaintext only for rows written
    before encryption at rest existed and is never set now."""

    __tablename__ = "message"
    __table_args__ = (UniqueConstraint("conversation_id", "channel_message_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
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
