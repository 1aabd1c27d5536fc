"""A simulated liquidity provider: fills at its own bid/ask; unmarketable limits are rejected."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from dealchat.execution.interfaces import Execution, OrderRequest
from dealchat.pricing.interfaces import PriceSource
from dealchat.records.chain import decimal_text


class SimulatedCounterparty:
    def __init__(self, prices: PriceSource, name: str = "SIM") -> None:
        self._prices = prices
        self.name = name

    def execute(self, request: OrderRequest) -> Execution:
        try:
            price = self._prices.price(
                request.instrument,
                quantity=request.quantity,
                tenor=request.tenor,
                trade_date=request.trade_date,
                value_date=request.value_date,
            )
        except LookupError:
            return self._reject(request, f"no price for {request.instrument.name}")
        level = price.ask if request.side == "buy" else price.bid
        if request.limit_price is not None and not _marketable(request, level):
            return self._reject(
                request,
                f"limit {decimal_text(request.limit_price)} not reached (market {level})",
            )
        if request.stop_price is not None and not _triggered(request, level):
            return self._reject(
                request,
                f"stop {decimal_text(request.stop_price)} not triggered (market {level})",
            )
        exec_id = "SIMX-" + hashlib.sha256(request.order_id.encode()).hexdigest()[:16].upper()
        return Execution(
            filled=True,
            counterparty=request.counterparty or self.name,
            execution_id=exec_id,
            price=level,
            quantity=request.quantity,
        )

    def _reject(self, request: OrderRequest, reason: str) -> Execution:
        return Execution(
            filled=False, counterparty=request.counterparty or self.name, reason=reason
        )


def _triggered(request: OrderRequest, level: Decimal) -> bool:
    """A buy stop triggers at or above its price, a sell stop at or below."""
    assert request.stop_price is not None
    if request.side == "buy":
        return level >= request.stop_price
    return level <= request.stop_price


def _marketable(request: OrderRequest, level: Decimal) -> bool:
    assert request.limit_price is not None
    if request.side == "buy":
        return level <= request.limit_price
    return level >= request.limit_price
