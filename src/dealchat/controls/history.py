"""A client's past orders summarised for the uncharacteristic-activity rules. Pure.

`summarise` makes the median and median absolute deviation (MAD) of past amounts in the base
currency, a sorted sample for percentiles, the currencies, counterparties and tenors used, and
how many orders fell in each UTC hour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from statistics import median

from dealchat.controls.engine import History

SAMPLE = 101  # points kept for percentile ranks


@dataclass(frozen=True)
class PastOrder:
    base_amount: Decimal
    currency: str
    counterparty: str | None
    tenor: str | None
    at: dt.datetime


def summarise(past: Iterable[PastOrder]) -> History:
    orders = list(past)
    if not orders:
        return History()
    amounts = sorted(order.base_amount for order in orders)
    middle = Decimal(median(amounts))
    mad = Decimal(median(sorted(abs(amount - middle) for amount in amounts)))
    hours = [0] * 24
    for order in orders:
        hours[order.at.astimezone(dt.UTC).hour] += 1
    return History(
        count=len(orders),
        median=middle,
        mad=mad,
        quantiles=_sample(amounts),
        currencies=frozenset(order.currency for order in orders),
        counterparties=frozenset(o.counterparty for o in orders if o.counterparty is not None),
        tenors=frozenset(order.tenor or "SPOT" for order in orders),
        hours=tuple(hours),
    )


def _sample(ordered: list[Decimal]) -> tuple[Decimal, ...]:
    if len(ordered) <= SAMPLE:
        return tuple(ordered)
    last = len(ordered) - 1
    return tuple(ordered[round(i * last / (SAMPLE - 1))] for i in range(SAMPLE))
