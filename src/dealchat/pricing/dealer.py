"""When the bot may not price a quote itself and a dealer must (a request for quote, RFQ). Pure.

A dealer prices a bond (by the instrument kind the parser yields), any instrument the settings
list (`DEALCHAT_PRICING__DEALER_INSTRUMENTS='["USD/TRY", "XS2462605671"]'`), a size above
`DEALCHAT_PRICING__DEALER_ABOVE` in the base currency (a size in the quote currency is turned into
the base at the source's mid), and a pair the price source cannot price at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class DealerReason(StrEnum):
    BOND = "bond"
    LISTED = "listed"
    SIZE = "size"
    NO_PRICE_SOURCE = "no_price_source"


@dataclass(frozen=True)
class DealerPolicy:
    above: Decimal = Decimal(10_000_000)  # in the base currency (a bond: its nominal)
    instruments: frozenset[str] = field(default_factory=frozenset)  # pairs or ISINs
    bonds: bool = True


@dataclass(frozen=True)
class QuoteAsk:
    """What the client asked a price for: a pair (`EUR/USD`) or an ISIN, and the size if any."""

    pair: str | None
    isin: str | None
    dealt_currency: str | None
    quantity: Decimal | None


def base_amount(ask: QuoteAsk, mid: Decimal | None) -> Decimal | None:
    """The size in the base currency (a bond's nominal as it is); None when it cannot be known:
    no size, or a size in the quote currency without a mid to convert it."""
    if ask.quantity is None:
        return None
    if ask.pair is None:
        return ask.quantity
    base, quote = ask.pair.split("/")
    if ask.dealt_currency in (None, base):
        return ask.quantity
    if ask.dealt_currency == quote and mid is not None and mid > 0:
        return ask.quantity / mid
    return None


def dealer_reason(
    policy: DealerPolicy, ask: QuoteAsk, *, mid: Decimal | None
) -> DealerReason | None:
    """Why a dealer must price this (first reason that applies), or None: the bot may.
    `mid` is the price source's mid, None when the source has no price for the instrument."""
    if ask.isin is not None and policy.bonds:
        return DealerReason.BOND
    if (ask.pair or ask.isin) in policy.instruments:
        return DealerReason.LISTED
    if mid is None:
        return DealerReason.NO_PRICE_SOURCE
    amount = base_amount(ask, mid)
    if amount is not None and amount > policy.above:
        return DealerReason.SIZE
    return None
