"""Ticket text and ticket hash, pure: what the client confirms is exactly what is hashed."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from decimal import Decimal

from dealchat.records.chain import canonical_json, decimal_text


@dataclass(frozen=True)
class Ticket:
    ref: str
    client_id: str
    side: str
    pair: str | None
    isin: str | None
    dealt_currency: str | None
    quantity: Decimal
    tenor: str | None
    order_type: str
    limit_price: Decimal | None
    counterparty: str | None
    quote_id: str | None

    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of every field: the hash a step-up proof is bound to."""
        return hashlib.sha256(canonical_json(asdict(self)).encode("utf-8")).hexdigest()


def amount_text(value: Decimal) -> str:
    """1000000 -> '1,000,000'; 2500.5 -> '2,500.5'."""
    return format(value.normalize(), ",f")


def instrument_words(ticket: Ticket) -> str:
    """`1,000,000 EUR vs USD SPOT`, or `EUR vs 1,000,000 USD SPOT` when dealt in USD."""
    amount = amount_text(ticket.quantity)
    if ticket.pair is None:
        return f"{amount} face of {ticket.isin}"
    base, quote = ticket.pair.split("/")
    if ticket.dealt_currency in (None, base):
        return f"{amount} {base} vs {quote} {ticket.tenor}"
    return f"{base} vs {amount} {quote} {ticket.tenor}"


def describe(ticket: Ticket) -> str:
    """`BUY 1,000,000 EUR vs USD SPOT at market`: the words shared by ticket and status replies."""
    how = "at market" if ticket.limit_price is None else f"limit {decimal_text(ticket.limit_price)}"
    if ticket.counterparty:
        how += f" with {ticket.counterparty}"
    return f"{ticket.side.upper()} {instrument_words(ticket)} {how}"


def ticket_text(ticket: Ticket) -> str:
    return (
        f"TO CONFIRM: YOU {describe(ticket)}. Ref {ticket.ref}. Reply c to confirm or x to cancel."
    )
