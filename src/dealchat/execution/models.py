"""What the platform keeps about execution with liquidity providers.

`fix_outbound` is the FIX outbox: a NewOrderSingle, OrderCancelRequest or OrderCancelReplaceRequest
is written here in the transaction that decides it and sent after commit; its ClOrdID is unique,
so it is the idempotency key. `fix_message` journals every application message in and out with
its session and MsgSeqNum. `order_fill` holds one row per execution (ExecID) of an order: a second
report with the same ExecID is a duplicate, never a second booking. `execution_exception` is a
report that failed an inbound control, held for people to decide. `fix_session_state` is each
session's last known state and sequence numbers. `settlement` is what a fill will move on the
bank's accounts (one row per currency leg), which end-of-day reconciliation matches.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, MONEY, Base, UtcDateTime, new_id, utcnow

QUEUED, SENDING, SENT = "queued", "sending", "sent"


class FixOutbound(Base):
    __tablename__ = "fix_outbound"
    __table_args__ = (Index("ix_fix_outbound_state_provider", "state", "provider"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    clordid: Mapped[str] = mapped_column(String(40), unique=True)
    orig_clordid: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    msg_type: Mapped[str] = mapped_column(String(2))  # D new, F cancel, G cancel/replace
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    limit_price: Mapped[Decimal | None] = mapped_column(MONEY)
    state: Mapped[str] = mapped_column(String(16), default=QUEUED)
    seq_num: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class FixMessage(Base):
    __tablename__ = "fix_message"
    __table_args__ = (Index("ix_fix_message_session_dir_seq", "session", "direction", "seq_num"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    provider: Mapped[str] = mapped_column(String(16))
    session: Mapped[str] = mapped_column(String(80))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    msg_type: Mapped[str] = mapped_column(String(2))
    seq_num: Mapped[int] = mapped_column(Integer)
    poss_dup: Mapped[bool] = mapped_column(Boolean, default=False)
    clordid: Mapped[str | None] = mapped_column(String(40), index=True)
    exec_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(ForeignKey("client_order.id"), index=True)
    outcome: Mapped[str | None] = mapped_column(String(24))
    raw: Mapped[str] = mapped_column(Text)  # the message as on the wire, SOH shown as |
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class OrderFill(Base):
    __tablename__ = "order_fill"
    __table_args__ = (UniqueConstraint("order_id", "exec_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), index=True)
    exec_id: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    price: Mapped[Decimal] = mapped_column(MONEY)
    value_date: Mapped[str | None] = mapped_column(String(10))
    message_id: Mapped[str | None] = mapped_column(ForeignKey("fix_message.id"))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ExecutionException(Base):
    __tablename__ = "execution_exception"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str | None] = mapped_column(ForeignKey("client_order.id"), index=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("fix_message.id"))
    provider: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[str] = mapped_column(Text)  # JSON [{"code", "detail"}]
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    prior_state: Mapped[str | None] = mapped_column(String(24))  # the order's, before review
    proposed_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    proposal: Mapped[str | None] = mapped_column(String(8))  # book | discard
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class FixSessionState(Base):
    __tablename__ = "fix_session_state"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    session: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16))  # created | logged_on | logged_out | down
    clean_logout: Mapped[bool | None] = mapped_column(Boolean)
    next_sender_seq: Mapped[int | None] = mapped_column(Integer)
    next_target_seq: Mapped[int | None] = mapped_column(Integer)
    logged_on_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    logged_out_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Settlement(Base):
    """One currency leg a fill moves: `amount` positive when the bank receives it."""

    __tablename__ = "settlement"
    __table_args__ = (Index("ix_settlement_value_currency", "value_date", "currency"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), index=True)
    fill_id: Mapped[str | None] = mapped_column(ForeignKey("order_fill.id"))
    reference: Mapped[str] = mapped_column(String(40))  # the order's ClOrdID (its ref)
    counterparty: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    value_date: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | matched
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
