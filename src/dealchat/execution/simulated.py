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
        price = self._prices.price(
            request.instrument, quantity=request.quantity, tenor=request.tenor
        )
        level = price.ask if request.side == "buy" else price.bid
        if request.limit_price is not None and not _marketable(request, level):
            return Execution(
                filled=False,
                counterparty=request.counterparty or self.name,
                reason=f"limit {decimal_text(request.limit_price)} not reached (market {level})",
            )
        exec_id = "SIMX-" + hashlib.sha256(request.order_id.encode()).hexdigest()[:16].upper()
        return Execution(
            filled=True,
            counterparty=request.counterparty or self.name,
            execution_id=exec_id,
            price=level,
            quantity=request.quantity,
        )


def _marketable(request: OrderRequest, level: Decimal) -> bool:
    assert request.limit_price is not None
    if request.side == "buy":
        return level <= request.limit_price
    return level >= request.limit_price
