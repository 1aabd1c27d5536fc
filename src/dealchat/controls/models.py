"""Controls tables: limit rows and reservations, decisions, four-eyes holds, rule set versions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, MONEY, Base, UtcDateTime, new_id, utcnow


class LimitRow(Base):
    """One row per limit and scope key (`client-day` x `client:<id>`): the row a reservation locks
    so that two orders never both take the last headroom."""

    __tablename__ = "control_limit"
    __table_args__ = (UniqueConstraint("rule_id", "key"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    rule_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Reservation(Base):
    """Headroom an order holds under one limit, in the base currency: reserved while the order is
    open or held, consumed by a fill, released by a cancel, a reject, an abort or an expiry."""

    __tablename__ = "control_reservation"
    __table_args__ = (Index("ix_control_reservation_window", "rule_id", "key", "state", "at"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(160))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    state: Mapped[str] = mapped_column(String(16))  # reserved | consumed | released
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ControlDecision(Base):
    """The pre-trade decision on one confirmed order, with every rule that fired (JSON)."""

    __tablename__ = "control_decision"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # allow | hold | reject
    score: Mapped[int] = mapped_column(Integer)
    ruleset: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON of Decision.as_record()
    explanation: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Hold(Base):
    """A held order waiting for `required` distinct approvers (four-eyes), or its outcome."""

    __tablename__ = "order_hold"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), unique=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("control_decision.id"))
    state: Mapped[str] = mapped_column(String(16), index=True)  # open|released|aborted|expired
    required: Mapped[int] = mapped_column(Integer)
    entered_by: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class HoldStep(Base):
    """One approver's approval or abort of a hold; an approver counts once per hold."""

    __tablename__ = "order_hold_step"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    hold_id: Mapped[str] = mapped_column(ForeignKey("order_hold.id"), index=True)
    approver_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    action: Mapped[str] = mapped_column(String(8))  # approve | abort
    comment: Mapped[str] = mapped_column(String(500))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class RuleSetVersion(Base):
    """A version of a rule set: proposed by one person, active only once another approves it."""

    __tablename__ = "control_ruleset"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)  # canonical YAML
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)  # proposed|active|retired|refused
    proposed_by: Mapped[str] = mapped_column(ForeignKey("user_account.id"))
    proposed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    comment: Mapped[str] = mapped_column(String(500))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
