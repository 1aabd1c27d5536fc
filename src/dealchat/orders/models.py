"""Quotes and orders. Quantities and prices are exact decimals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, MONEY, Base, UtcDateTime, new_id, utcnow


class Quote(Base):
    __tablename__ = "quote"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    pair: Mapped[str | None] = mapped_column(String(7))
    isin: Mapped[str | None] = mapped_column(String(12))
    dealt_currency: Mapped[str | None] = mapped_column(String(3))
    quantity: Mapped[Decimal | None] = mapped_column(MONEY)
    tenor: Mapped[str | None] = mapped_column(String(10))
    bid: Mapped[Decimal] = mapped_column(MONEY)
    ask: Mapped[Decimal] = mapped_column(MONEY)
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class Order(Base):
    """From ticket (awaiting confirmation) to placed and filled, rejected, cancelled or expired."""

    __tablename__ = "client_order"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    state: Mapped[str] = mapped_column(String(24), index=True)
    side: Mapped[str] = mapped_column(String(4))
    pair: Mapped[str | None] = mapped_column(String(7))
    isin: Mapped[str | None] = mapped_column(String(12))
    dealt_currency: Mapped[str | None] = mapped_column(String(3))
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    tenor: Mapped[str | None] = mapped_column(String(10))
    order_type: Mapped[str] = mapped_column(String(8))
    limit_price: Mapped[Decimal | None] = mapped_column(MONEY)
    counterparty: Mapped[str | None] = mapped_column(String(16))
    quote_id: Mapped[str | None] = mapped_column(ForeignKey("quote.id"))
    # The chat order language v2: product (outright, swap, ndf), a swap's far leg, the value and
    # fixing dates a swap or NDF ticket reads back, stop price, time in force and its expiry.
    product: Mapped[str] = mapped_column(String(8), default="outright", server_default="outright")
    far_tenor: Mapped[str | None] = mapped_column(String(10))
    value_date: Mapped[str | None] = mapped_column(String(10))
    far_value_date: Mapped[str | None] = mapped_column(String(10))
    fixing_date: Mapped[str | None] = mapped_column(String(10))
    stop_price: Mapped[Decimal | None] = mapped_column(MONEY)
    time_in_force: Mapped[str | None] = mapped_column(String(3))
    expire_date: Mapped[str | None] = mapped_column(String(10))
    ticket_hash: Mapped[str] = mapped_column(String(64))
    amended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())  # last amend in chat
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    placed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    filled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    fill_price: Mapped[Decimal | None] = mapped_column(MONEY)
    fill_quantity: Mapped[Decimal | None] = mapped_column(MONEY)
    execution_id: Mapped[str | None] = mapped_column(String(64))
    executed_by: Mapped[str | None] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(String(255))
    # With a FIX counterparty: the provider it was routed to, the ClOrdID of its live instruction
    # (a cancel/replace gives a new one), the provider's OrderID. fill_quantity and fill_price
    # hold the cumulative quantity and average price of its fills (execution.models.OrderFill).
    routed_to: Mapped[str | None] = mapped_column(String(16))
    clordid: Mapped[str | None] = mapped_column(String(40), unique=True)
    lp_order_id: Mapped[str | None] = mapped_column(String(64))


class ChangeProposal(Base):
    """A change of a working order the client asked for in chat and has not approved yet: what
    the step-up page shows for the link bound to `ticket_hash` (the changed ticket's hash)."""

    __tablename__ = "order_change_proposal"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    order_id: Mapped[str] = mapped_column(ForeignKey("client_order.id"), index=True)
    ticket_hash: Mapped[str] = mapped_column(String(64), index=True)
    quantity: Mapped[Decimal] = mapped_column(MONEY)
    limit_price: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
