"""The PriceSource port: an indicative two-way price for an instrument and size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True)
class Instrument:
    """An FX pair in market convention (`EUR/USD`) or a bond by ISIN; exactly one is set."""

    pair: str | None = None
    isin: str | None = None

    @property
    def name(self) -> str:
        return self.pair or self.isin or "?"


@dataclass(frozen=True)
class Price:
    bid: Decimal
    ask: Decimal
    source: str
    value_date: dt.date | None = None  # set for a forward outright
    points: tuple[Decimal, Decimal] | None = None  # forward points in pips, bid and ask


class PriceSource(Protocol):
    def price(
        self,
        instrument: Instrument,
        *,
        quantity: Decimal | None,
        tenor: str | None,
        trade_date: dt.date | None = None,
        value_date: dt.date | None = None,
    ) -> Price:
        """Indicative bid and ask for settlement at `tenor` (or `value_date`, which wins) from
        `trade_date` (today if None); raises LookupError for an instrument it does not price."""
        ...
