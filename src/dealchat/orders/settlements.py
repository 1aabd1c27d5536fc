"""What a filled FX order moves on the bank's accounts with the counterparty, booked for
end-of-day reconciliation (recon/): the base currency leg and the quote currency leg, each signed
from the bank's side (buying EUR/USD from the provider: EUR comes in, USD goes out), on the
order's value date, under its reference. A bond's cash leg is not booked here yet."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy.orm import Session

from dealchat.calendars import value_dates
from dealchat.execution.models import Settlement
from dealchat.orders.models import Order

NO_MINOR_UNITS = frozenset({"JPY", "KRW", "CLP", "VND", "ISK"})


def minor(value: Decimal, currency: str) -> Decimal:
    step = Decimal(1) if currency in NO_MINOR_UNITS else Decimal("0.01")
    return value.quantize(step, rounding=ROUND_HALF_EVEN)


def legs(order: Order) -> list[tuple[str, Decimal]]:
    """(currency, signed amount) per leg, the bank's side, for a filled FX order."""
    assert order.pair is not None
    assert order.fill_price is not None
    base, quote = order.pair.split("/")
    quantity = order.fill_quantity or order.quantity
    if order.dealt_currency in (None, base):
        base_amount, quote_amount = quantity, quantity * order.fill_price
    else:
        base_amount, quote_amount = quantity / order.fill_price, quantity
    sign = 1 if order.side == "buy" else -1
    return [
        (base, minor(sign * base_amount, base)),
        (quote, minor(-sign * quote_amount, quote)),
    ]


def value_date_of(order: Order, now: dt.datetime) -> str:
    if order.value_date:
        return order.value_date
    assert order.pair is not None
    return value_dates.value_date(order.pair, order.tenor or "SPOT", now.date()).isoformat()


def book(session: Session, *, order: Order, now: dt.datetime) -> list[Settlement]:
    """The settlement legs of a filled order (none for a bond, or a swap's second leg yet)."""
    if order.pair is None or order.fill_price is None or order.product not in (None, "outright"):
        return []
    rows = [
        Settlement(
            order_id=order.id,
            reference=order.ref,
            counterparty=order.executed_by or order.routed_to or "?",
            currency=currency,
            amount=amount,
            value_date=value_date_of(order, now),
            created_at=now,
        )
        for currency, amount in legs(order)
    ]
    session.add_all(rows)
    return rows
