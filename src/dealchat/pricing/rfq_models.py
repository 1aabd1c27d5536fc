"""Requests for quote: a price the bot may not give itself (pricing.dealer), asked of a dealer.

requested -> priced -> taken, or requested -> declined, or requested|priced -> expired (not
priced within the wait, the dealer's price past its validity, or replaced by a newer request).
Every change is an audit entry on `rfq:<id>` in the same transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dealchat.db.base import ID, MONEY, Base, UtcDateTime, new_id, utcnow

REQUESTED, PRICED, DECLINED, EXPIRED, TAKEN = "requested", "priced", "declined", "expired", "taken"
OPEN_STATES = (REQUESTED, PRICED)


class Rfq(Base):
    __tablename__ = "rfq"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    ref: Mapped[str] = mapped_column(String(16), unique=True)  # RFQ-<n>, for people
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversation.id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("user_account.id"), index=True)
    # the request: the client's side (None: a two-way price), instrument, size, tenor
    side: Mapped[str | None] = mapped_column(String(4))
    pair: Mapped[str | None] = mapped_column(String(7))
    isin: Mapped[str | None] = mapped_column(String(12))
    dealt_currency: Mapped[str | None] = mapped_column(String(3))
    quantity: Mapped[Decimal | None] = mapped_column(MONEY)
    tenor: Mapped[str | None] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(16))  # pricing.dealer.DealerReason
    language: Mapped[str | None] = mapped_column(String(8))  # the client's (zh-Hans, zh-Hant)
    state: Mapped[str] = mapped_column(String(12), index=True)
    requested_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # requested: the end of the wait for a dealer; priced: the end of the price's validity
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    bid: Mapped[Decimal | None] = mapped_column(MONEY)  # the client sells at the bid
    ask: Mapped[Decimal | None] = mapped_column(MONEY)  # the client buys at the ask
    validity_seconds: Mapped[int | None] = mapped_column(Integer)
    priced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    dealer_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))  # priced/declined
    quote_id: Mapped[str | None] = mapped_column(ForeignKey("quote.id"))  # the price as a quote
    outcome: Mapped[str | None] = mapped_column(String(500))  # decline or expiry reason
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
