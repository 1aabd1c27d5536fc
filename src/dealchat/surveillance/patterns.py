"""Pattern rules over orders: many orders just under a limit, and a pair the client never deals.

Each rule reads the client's recent orders and says, with the values that decided, whether the
order in hand fits the pattern. Parameters come from settings (`DEALCHAT_SURVEILLANCE__*`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.orders.models import Order
from dealchat.records.chain import decimal_text

# Orders that reached (or tried to reach) the market; tickets never confirmed do not count.
_DEALT = ("placed", "filled", "rejected", "held", "released", "aborted")


@dataclass(frozen=True)
class PatternParams:
    structuring_threshold: Decimal = Decimal(1_000_000)
    structuring_band: Decimal = Decimal("0.10")
    structuring_count: int = 3
    structuring_window: dt.timedelta = dt.timedelta(hours=24)
    usual_min_history: int = 5
    usual_lookback: dt.timedelta = dt.timedelta(days=180)


@dataclass(frozen=True)
class PatternHit:
    rule: str
    severity: str
    detail: dict[str, Any] = field(default_factory=dict)


def _in_band(quantity: Decimal, params: PatternParams) -> bool:
    floor = params.structuring_threshold * (1 - params.structuring_band)
    return floor <= quantity < params.structuring_threshold


def structuring(session: Session, order: Order, params: PatternParams) -> PatternHit | None:
    """At least `structuring_count` orders of one client in the window, each just under the
    threshold (within the band), in the same dealt currency: splitting to stay under a limit."""
    if not _in_band(order.quantity, params):
        return None
    since = (order.placed_at or order.created_at) - params.structuring_window
    rows = session.scalars(
        select(Order).where(
            Order.client_id == order.client_id,
            Order.dealt_currency == order.dealt_currency,
            Order.state.in_(_DEALT),
            Order.created_at >= since,
        )
    ).all()
    near = sorted(
        (row for row in rows if _in_band(row.quantity, params)), key=lambda row: row.created_at
    )
    if order not in near:
        near.append(order)
    if len(near) < params.structuring_count:
        return None
    return PatternHit(
        "structuring",
        "high",
        {
            "orders": [row.ref for row in near],
            "count": len(near),
            "total": decimal_text(sum((row.quantity for row in near), Decimal(0))),
            "threshold": decimal_text(params.structuring_threshold),
            "band": decimal_text(params.structuring_band),
            "currency": order.dealt_currency,
            "window_hours": params.structuring_window.total_seconds() / 3600,
        },
    )


def unusual_instrument(session: Session, order: Order, params: PatternParams) -> PatternHit | None:
    """A pair (or ISIN) the client has not dealt in its last `usual_lookback`, once it has at
    least `usual_min_history` orders to compare with."""
    instrument = order.pair or order.isin
    since = (order.placed_at or order.created_at) - params.usual_lookback
    rows = session.execute(
        select(Order.pair, Order.isin).where(
            Order.client_id == order.client_id,
            Order.id != order.id,
            Order.state.in_(_DEALT),
            Order.created_at >= since,
        )
    ).all()
    history = Counter(pair or isin for pair, isin in rows)
    if sum(history.values()) < params.usual_min_history or instrument in history:
        return None
    return PatternHit(
        "unusual-instrument",
        "medium",
        {
            "instrument": instrument,
            "history_orders": sum(history.values()),
            "usual": [name for name, _ in history.most_common(5)],
            "lookback_days": params.usual_lookback.days,
        },
    )


RULES = (structuring, unusual_instrument)


def check_order(session: Session, order: Order, params: PatternParams) -> list[PatternHit]:
    return [hit for rule in RULES if (hit := rule(session, order, params)) is not None]
