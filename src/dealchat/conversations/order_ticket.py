"""The ticket an order intent becomes: every field the client gave, and for a swap or an NDF the
value and fixing dates the ticket reads back (computed from the trade date, `calendars`)."""

from __future__ import annotations

import datetime as dt

from dealchat.calendars import value_dates
from dealchat.nlu import Intent, Product


def fields_from_intent(intent: Intent, trade_date: dt.date) -> dict[str, object] | str:
    """The ticket's fields, or the reason (plain words) the chat cannot ticket this order."""
    assert intent.side is not None
    assert intent.quantity is not None
    product = intent.product or Product.OUTRIGHT
    swap = product is Product.SWAP
    fields: dict[str, object] = {
        "side": intent.side.value,
        "pair": intent.pair,
        "isin": intent.isin,
        "dealt_currency": intent.dealt_currency,
        "quantity": intent.quantity,
        "tenor": intent.near_tenor if swap else intent.tenor,
        "order_type": intent.order_type.value if intent.order_type else "market",
        "limit_price": intent.limit_price,
        "counterparty": intent.counterparty,
        "quote_id": None,
        "product": product.value,
        "far_tenor": intent.far_tenor,
        "stop_price": intent.stop_price,
        "time_in_force": intent.time_in_force.value if intent.time_in_force else None,
        "expire_date": intent.expire_date,
        "value_date": None,
        "far_value_date": None,
        "fixing_date": None,
    }
    if product is Product.OUTRIGHT or intent.pair is None:
        return fields
    dated = _dates(intent.pair, fields, trade_date)
    return dated if isinstance(dated, str) else {**fields, **dated}


def _dates(pair: str, fields: dict[str, object], trade_date: dt.date) -> dict[str, object] | str:
    near = value_dates.value_date(pair, str(fields["tenor"]), trade_date)
    if not value_dates.is_business_day(near, value_dates.pair_currencies(pair)):
        return f"{near.isoformat()} is not a business day for {pair}. Please pick another date."
    if fields["product"] == Product.NDF.value:
        fixing = value_dates.fixing_date(pair, near)
        return {"value_date": near.isoformat(), "fixing_date": fixing.isoformat()}
    far = value_dates.value_date(pair, str(fields["far_tenor"]), trade_date)
    if not value_dates.is_business_day(far, value_dates.pair_currencies(pair)):
        return f"{far.isoformat()} is not a business day for {pair}. Please pick another date."
    if far <= near:
        return f"The far leg ({far.isoformat()}) must come after the near leg ({near})."
    return {"value_date": near.isoformat(), "far_value_date": far.isoformat()}
