"""The words a ticket is read back in: `BUY 1,000,000 EUR vs USD 1W at market with 360T`.

The read-back is itself in the chat order language, so what the client confirms parses to exactly
the fields of the ticket (a property test holds this for every order the parser makes)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from dealchat.nlu.model import Intent


@dataclass(frozen=True)
class OrderWords:
    """The fields a read-back names (a ticket's, or an order intent's)."""

    side: str
    pair: str | None
    isin: str | None
    dealt_currency: str | None
    quantity: Decimal
    tenor: str | None
    order_type: str = "market"
    limit_price: Decimal | None = None
    counterparty: str | None = None
    product: str = "outright"
    far_tenor: str | None = None  # a swap's far leg; its near leg is `tenor`
    stop_price: Decimal | None = None
    time_in_force: str | None = None
    expire_date: str | None = None


def amount_text(value: Decimal) -> str:
    """1000000 -> '1,000,000'; 2500.5 -> '2,500.5'; below a thousand in thousands ('0.5k')."""
    value = value.normalize()
    if value < 1000:
        return format((value / 1000).normalize(), "f") + "k"
    return format(value, ",f")


def price_text(value: Decimal) -> str:
    """151.20 and 151.2000000000 (as a database returns it) both read back as 151.2."""
    return format(value.normalize(), "f")


def instrument_words(words: OrderWords) -> str:
    """`1,000,000 EUR vs USD SPOT`, `EUR vs 1,000,000 USD SPOT` when dealt in USD, the two legs of
    a swap (`SPOT vs 1M swap`), an NDF's tenor (`3M NDF`), or a bond's face amount."""
    amount = amount_text(words.quantity)
    if words.pair is None:
        return f"{amount} face of {words.isin}"
    base, quote = words.pair.split("/")
    if words.dealt_currency in (None, base):
        what = f"{amount} {base} vs {quote}"
    else:
        what = f"{base} vs {amount} {quote}"
    if words.product == "swap":
        return f"{what} {words.tenor} vs {words.far_tenor} swap"
    if words.product == "ndf":
        return f"{what} {words.tenor} NDF"
    return f"{what} {words.tenor}"


def order_line(words: OrderWords) -> str:
    """`BUY 1,000,000 EUR vs USD SPOT at market`, `SELL ... stop 1.265 GTC with GS`."""
    if words.order_type == "stop" and words.stop_price is not None:
        how = f"stop {price_text(words.stop_price)}"
    elif words.limit_price is not None:
        how = f"limit {price_text(words.limit_price)}"
    else:
        how = "at market"
    if words.time_in_force:
        how += f" {words.time_in_force}"
        if words.expire_date:
            how += f" {words.expire_date}"
    if words.counterparty:
        how += f" with {words.counterparty}"
    return f"{words.side.upper()} {instrument_words(words)} {how}"


def words_of(intent: Intent) -> OrderWords:
    """The read-back fields of an order intent with an instrument and a quantity."""
    assert intent.side is not None
    assert intent.quantity is not None
    swap = intent.far_tenor is not None
    return OrderWords(
        side=intent.side.value,
        pair=intent.pair,
        isin=intent.isin,
        dealt_currency=intent.dealt_currency,
        quantity=intent.quantity,
        tenor=intent.near_tenor if swap else intent.tenor,
        order_type=intent.order_type.value if intent.order_type else "market",
        limit_price=intent.limit_price,
        counterparty=intent.counterparty,
        product=intent.product.value if intent.product else "outright",
        far_tenor=intent.far_tenor,
        stop_price=intent.stop_price,
        time_in_force=intent.time_in_force.value if intent.time_in_force else None,
        expire_date=intent.expire_date,
    )
