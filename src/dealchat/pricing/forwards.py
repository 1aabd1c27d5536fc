"""Forward prices: a spot price moved by forward points from each currency's deposit rates.

Pure but for the spot source it wraps. Covered interest parity: for a pair BASE/QUOTE, value `d`
calendar days after spot (negative for TOD and TOM),

    forward = spot * (1 + r_quote * d / basis_quote) / (1 + r_base * d / basis_base)

with each rate read off its currency's curve (linear in days between the curve's tenors, flat
beyond them) and its money-market day count (ACT/365 for sterling and the Commonwealth and Asian
currencies that use it, ACT/360 otherwise). Bid and ask move by the same factor, so the spread of
the spot price carries over. Forward points are `forward - spot` in pips (0.0001, 0.01 for JPY).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from dealchat.calendars import value_dates
from dealchat.pricing.interfaces import Instrument, Price, PriceSource

ACT_365 = frozenset(
    {"GBP", "AUD", "NZD", "CAD", "HKD", "SGD", "ZAR", "PLN", "INR", "TWD", "KRW", "THB", "MYR"}
)
_TENOR_DAYS = {"W": Decimal(7), "M": Decimal(365) / 12, "Y": Decimal(365)}
_PERCENT = Decimal("0.01")


def tenor_days(tenor: str) -> Decimal:
    """Calendar days a curve tenor (`ON`, `1W`, `3M`, `2Y`) stands for, approximately."""
    if tenor == "ON":
        return Decimal(1)
    count, unit = tenor[:-1], tenor[-1]
    if not count.isdigit() or unit not in _TENOR_DAYS:
        raise ValueError(f"curve tenor {tenor!r}: ON, or a number and W, M or Y")
    return int(count) * _TENOR_DAYS[unit]


@dataclass(frozen=True)
class Curve:
    """A currency's deposit rates (percent a year) by days; linear between, flat outside."""

    points: tuple[tuple[Decimal, Decimal], ...]

    @classmethod
    def of(cls, rates: Mapping[str, Decimal]) -> Curve:
        points = sorted((tenor_days(tenor), Decimal(rate)) for tenor, rate in rates.items())
        if not points:
            raise ValueError("a curve needs at least one rate")
        return cls(tuple(points))

    def rate(self, days: Decimal) -> Decimal:
        """The rate as a fraction (4.5 percent is 0.045) for a deposit of `days`."""
        days = abs(days)
        first, last = self.points[0], self.points[-1]
        if days <= first[0]:
            return first[1] * _PERCENT
        if days >= last[0]:
            return last[1] * _PERCENT
        for (d0, r0), (d1, r1) in zip(self.points, self.points[1:], strict=False):
            if d0 <= days <= d1:
                return (r0 + (r1 - r0) * (days - d0) / (d1 - d0)) * _PERCENT
        raise AssertionError("unreachable: days lies between the first and last point")


def basis(currency: str) -> int:
    return 365 if currency in ACT_365 else 360


def forward_factor(pair: str, days: int, curves: Mapping[str, Curve]) -> Decimal:
    """forward / spot for `pair` settling `days` after spot; LookupError for a missing curve."""
    base, quote = pair.split("/")
    for currency in (base, quote):
        if currency not in curves:
            raise LookupError(f"no deposit rates for {currency}")
    span = Decimal(days)
    grow_quote = 1 + curves[quote].rate(span) * span / basis(quote)
    grow_base = 1 + curves[base].rate(span) * span / basis(base)
    return grow_quote / grow_base


def pip(pair: str) -> Decimal:
    return Decimal("0.01") if pair.endswith("/JPY") else Decimal("0.0001")


def points(pair: str, spot: Decimal, forward: Decimal) -> Decimal:
    """Forward points in pips, to a tenth of a pip."""
    return ((forward - spot) / pip(pair)).quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)


class ForwardPriceSource:
    """Any spot source, with forward outrights for a tenor or value date other than spot."""

    def __init__(self, spot: PriceSource, curves: Mapping[str, Curve]) -> None:
        self._spot = spot
        self._curves = dict(curves)
        self.name = getattr(spot, "name", "FWD")

    def price(
        self,
        instrument: Instrument,
        *,
        quantity: Decimal | None,
        tenor: str | None,
        trade_date: dt.date | None = None,
        value_date: dt.date | None = None,
    ) -> Price:
        spot = self._spot.price(instrument, quantity=quantity, tenor=None)
        pair = instrument.pair
        if pair is None or (value_date is None and (tenor or "SPOT") == "SPOT"):
            return spot
        today = trade_date or dt.datetime.now(dt.UTC).date()
        settles = value_date or value_dates.value_date(pair, tenor or "SPOT", today)
        days = (settles - value_dates.spot_date(pair, today)).days
        if days == 0:
            return spot
        factor = forward_factor(pair, days, self._curves)
        step = _step(spot)
        bid = (spot.bid * factor).quantize(step, rounding=ROUND_HALF_EVEN)
        ask = (spot.ask * factor).quantize(step, rounding=ROUND_HALF_EVEN)
        return Price(
            bid=bid,
            ask=max(ask, bid + step),
            source=spot.source,
            value_date=settles,
            points=(points(pair, spot.bid, bid), points(pair, spot.ask, ask)),
        )


def _step(spot: Price) -> Decimal:
    places = max(-int(spot.bid.as_tuple().exponent), -int(spot.ask.as_tuple().exponent))
    return Decimal(1).scaleb(-places)
