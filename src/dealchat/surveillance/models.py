"""Lexicon policy versions (proposed, approved by a second person) and alerts with their review
state. Reviewer actions are audit entries on the alert's subject `alert:<id>`."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class LexiconVersion(Base):
    """One version of one policy: proposed -> active (approved) -> superseded, or rejected."""

    __tablename__ = "lexicon_version"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)  # the YAML as proposed
    state: Mapped[str] = mapped_column(String(16), index=True)
    proposed_by: Mapped[str] = mapped_column(String(64))  # user id (or "system")
    proposed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """What a lexicon rule or pattern rule saw, and where its review stands."""

    __tablename__ = "surveillance_alert"
    __table_args__ = (UniqueConstraint("policy", "rule", "subject"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    raised_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # lexicon | pattern
    policy: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[int | None] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(200), index=True)  # message:<id> | order:<id>
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversation.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("message.id"))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("client_order.id"))
    party_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    spans: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[start, end], ...]
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the values that decided
    status: Mapped[str] = mapped_column(String(16), index=True)  # open|claimed|escalated|closed
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    disposition: Mapped[str | None] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
