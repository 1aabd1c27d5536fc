"""The Counterparty port: a liquidity provider that accepts and fills, or rejects, an order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from dealchat.pricing.interfaces import Instrument


@dataclass(frozen=True)
class OrderRequest:
    order_id: str
    instrument: Instrument
    side: str  # buy | sell, of the base currency or the bond
    quantity: Decimal
    dealt_currency: str | None
    tenor: str | None
    order_type: str  # market | limit | stop
    limit_price: Decimal | None
    counterparty: str | None = None  # the LP the client named, if any
    product: str = "outright"  # outright | swap (tenor is the near leg) | ndf
    far_tenor: str | None = None
    stop_price: Decimal | None = None  # with order_type stop
    time_in_force: str | None = None
    trade_date: dt.date | None = None  # the day it is executed, from which spot is counted
    value_date: dt.date | None = None  # as the ticket fixed it (the near leg of a swap)


@dataclass(frozen=True)
class Execution:
    filled: bool
    counterparty: str
    execution_id: str | None = None
    price: Decimal | None = None
    quantity: Decimal | None = None
    reason: str | None = None


class Counterparty(Protocol):
    def execute(self, request: OrderRequest) -> Execution: ...
