"""A deterministic simulated price source for the demo and tests: fixed mids, a spread in bp.

Spot only: `pricing.forwards.ForwardPriceSource` wraps it for forward outrights."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import ROUND_HALF_EVEN, Decimal

from dealchat.pricing.interfaces import Instrument, Price

# Reference mids against USD (units of USD per currency unit), for crosses.
USD_VALUE: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "EUR": Decimal("1.0850"),
    "GBP": Decimal("1.2700"),
    "AUD": Decimal("0.6550"),
    "NZD": Decimal("0.6000"),
    "CAD": Decimal("0.7350"),
    "CHF": Decimal("1.1300"),
    "JPY": Decimal("0.0066138"),
    "NOK": Decimal("0.0935"),
    "SEK": Decimal("0.0960"),
    "DKK": Decimal("0.1455"),
    "CNH": Decimal("0.1380"),
    "HKD": Decimal("0.1280"),
    "SGD": Decimal("0.7450"),
    "MXN": Decimal("0.0580"),
    "TRY": Decimal("0.0290"),
    "ZAR": Decimal("0.0540"),
    "PLN": Decimal("0.2500"),
    "CNY": Decimal("0.1385"),
    "KRW": Decimal("0.000725"),
    "INR": Decimal("0.01180"),
    "TWD": Decimal("0.0310"),
    "XAU": Decimal("2650.00"),
    "XAG": Decimal("31.00"),
}
_BP = Decimal("0.0001")


class SimulatedPriceSource:
    """Mid from USD_VALUE crosses (bonds: a fixed price per ISIN), +-half the spread."""

    name = "SIM"

    def __init__(self, spread_bps: Decimal) -> None:
        self._half_spread = spread_bps * _BP / 2

    def price(
        self,
        instrument: Instrument,
        *,
        quantity: Decimal | None,
        tenor: str | None,
        trade_date: dt.date | None = None,
        value_date: dt.date | None = None,
    ) -> Price:
        mid, places = self._mid(instrument)
        step = Decimal(1).scaleb(-places)
        bid = (mid * (1 - self._half_spread)).quantize(step, rounding=ROUND_HALF_EVEN)
        ask = (mid * (1 + self._half_spread)).quantize(step, rounding=ROUND_HALF_EVEN)
        if ask <= bid:
            ask = bid + step
        return Price(bid=bid, ask=ask, source=self.name)

    def _mid(self, instrument: Instrument) -> tuple[Decimal, int]:
        if instrument.isin is not None:
            digest = hashlib.sha256(instrument.isin.encode()).digest()
            return Decimal(95) + Decimal(digest[0] % 100) / 10, 4
        assert instrument.pair is not None
        base, quote = instrument.pair.split("/")
        if base not in USD_VALUE or quote not in USD_VALUE:
            raise LookupError(f"no price for {instrument.pair}")
        mid = USD_VALUE[base] / USD_VALUE[quote]
        return mid, 3 if quote == "JPY" else 5
