"""Compliance reviews (cases): opened from an alert or a search hit, claimed, commented,
escalated, closed with a disposition; a breach is closed by two different reviewers. Every step
is an audit entry on the review's subject `review:<id>`, whose stream is its history."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, Base, UtcDateTime, new_id, utcnow


class Review(Base):
    __tablename__ = "compliance_review"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # CASE-<n>, for people
    opened_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    opened_by: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversation.id"), index=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("message.id"))
    alert_id: Mapped[str | None] = mapped_column(ForeignKey("surveillance_alert.id"), index=True)
    party_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    summary: Mapped[str] = mapped_column(String(500))
    # open | claimed | escalated | closing (a breach waiting for its second reviewer) | closed
    state: Mapped[str] = mapped_column(String(16), index=True)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    escalated_to: Mapped[str | None] = mapped_column(String(200))
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    proposed_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    disposition: Mapped[str | None] = mapped_column(String(32))
    closed_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    comment: Mapped[str | None] = mapped_column(Text)  # the closing comment
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
