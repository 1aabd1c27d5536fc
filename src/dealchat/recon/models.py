"""Imported statements and confirmations, their lines, and the breaks reconciliation found.

A statement is recognised by the digest of its text and by (account, its :20: reference, its
statement number): importing it again changes nothing. A line is matched to at most one booked
settlement (execution.models.Settlement); what matches nothing, or matches badly, is a break.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, MONEY, Base, UtcDateTime, new_id, utcnow


class ReconStatement(Base):
    __tablename__ = "recon_statement"
    __table_args__ = (UniqueConstraint("account", "reference", "number", "kind"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(8))  # MT940 | MT950 | MT900 | MT910
    account: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(35))  # :20:
    number: Mapped[str] = mapped_column(String(16))  # :28C: (statement/sequence), "" for 900/910
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(255))
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ReconLine(Base):
    __tablename__ = "recon_line"
    __table_args__ = (Index("ix_recon_line_value_currency", "value_date", "currency"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    statement_id: Mapped[str] = mapped_column(ForeignKey("recon_statement.id"), index=True)
    account: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    value_date: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(MONEY)  # positive: a credit to the bank's account
    reference: Mapped[str] = mapped_column(String(40))  # the customer reference (our ClOrdID)
    bank_reference: Mapped[str | None] = mapped_column(String(40))
    details: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    settlement_id: Mapped[str | None] = mapped_column(ForeignKey("settlement.id"), index=True)


class ReconBreak(Base):
    __tablename__ = "recon_break"
    __table_args__ = (UniqueConstraint("kind", "line_id", "settlement_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    day: Mapped[str] = mapped_column(String(10), index=True)  # the value date it is about
    line_id: Mapped[str | None] = mapped_column(ForeignKey("recon_line.id"))
    settlement_id: Mapped[str | None] = mapped_column(ForeignKey("settlement.id"))
    detail: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
