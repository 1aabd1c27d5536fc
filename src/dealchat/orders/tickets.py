"""Ticket text and ticket hash, pure: what the client confirms is exactly what is hashed.

The ticket's order line is the chat order language's own read-back (`nlu.readback`), so parsed
again it gives the ticket's fields; a swap or NDF ticket adds its value and fixing dates."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from decimal import Decimal

from dealchat.nlu.readback import OrderWords, amount_text, order_line
from dealchat.nlu.readback import instrument_words as _instrument_words
from dealchat.records.chain import canonical_json

__all__ = ["V2_DEFAULTS", "Ticket", "amount_text", "describe", "instrument_words", "ticket_text"]

# Fields added with the order language v2: left out of the hash while they hold their default, so
# an outright ticket hashes exactly as it did before they existed.
V2_DEFAULTS: dict[str, object] = {
    "product": "outright",
    "far_tenor": None,
    "value_date": None,
    "far_value_date": None,
    "fixing_date": None,
    "stop_price": None,
    "time_in_force": None,
    "expire_date": None,
}


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
    product: str = "outright"
    far_tenor: str | None = None
    value_date: str | None = None
    far_value_date: str | None = None
    fixing_date: str | None = None
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    expire_date: str | None = None

    def content_hash(self) -> str:
        """SHA-256 over the canonical JSON of every field: the hash a step-up proof is bound to."""
        fields = {
            name: value
            for name, value in asdict(self).items()
            if name not in V2_DEFAULTS or value != V2_DEFAULTS[name]
        }
        return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()

    @property
    def words(self) -> OrderWords:
        return OrderWords(
            side=self.side,
            pair=self.pair,
            isin=self.isin,
            dealt_currency=self.dealt_currency,
            quantity=self.quantity,
            tenor=self.tenor,
            order_type=self.order_type,
            limit_price=self.limit_price,
            counterparty=self.counterparty,
            product=self.product,
            far_tenor=self.far_tenor,
            stop_price=self.stop_price,
            time_in_force=self.time_in_force,
            expire_date=self.expire_date,
        )


def instrument_words(ticket: Ticket) -> str:
    """`1,000,000 EUR vs USD SPOT`, or `EUR vs 1,000,000 USD SPOT` when dealt in USD."""
    return _instrument_words(ticket.words)


def describe(ticket: Ticket) -> str:
    """`BUY 1,000,000 EUR vs USD SPOT at market`: the words shared by ticket and status replies."""
    return order_line(ticket.words)


def dates_text(ticket: Ticket) -> str:
    """A swap's two value dates, an NDF's fixing and value dates; empty for an outright."""
    if ticket.product == "swap" and ticket.value_date and ticket.far_value_date:
        verbs = ("BUY", "SELL") if ticket.side == "buy" else ("SELL", "BUY")
        base = (ticket.pair or "").split("/")[0]
        return (
            f" Near leg: you {verbs[0]} {base} value {ticket.value_date}; "
            f"far leg: you {verbs[1]} {base} value {ticket.far_value_date}."
        )
    if ticket.product == "ndf" and ticket.fixing_date and ticket.value_date:
        return (
            f" Non-deliverable: fixing {ticket.fixing_date}, settled in USD "
            f"value {ticket.value_date}."
        )
    return ""


TICKET = "TO CONFIRM: YOU {what}.{dates} Ref {ref}. Reply c to confirm or x to cancel."


def ticket_text(ticket: Ticket) -> str:
    return TICKET.format(what=describe(ticket), dates=dates_text(ticket), ref=ticket.ref)
