"""Rule sets and order facts for the controls tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from typing import Any

from dealchat.controls.definitions import RateTable, RuleSet
from dealchat.controls.engine import OrderFacts

# Tuesday 24 November 2026, 10:00 in London (UTC+0 in winter).
TUESDAY_10_LDN = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)

RATES = RateTable.model_validate(
    {
        "base_currency": "USD",
        "rates": [
            {"currency": "EUR", "rate": "1.10", "source": "test fix", "as_of": TUESDAY_10_LDN},
            {"currency": "JPY", "rate": "0.0066", "source": "test fix", "as_of": TUESDAY_10_LDN},
        ],
    }
)

LDN = {
    "name": "LDN",
    "timezone": "Europe/London",
    "open": "07:00",
    "close": "18:00",
    "holidays": ["2026-12-25"],
    "cutoffs": {"JPY": "09:00"},
}


def ruleset(*rules: dict[str, Any], **fields: Any) -> RuleSet:
    body: dict[str, Any] = {
        "calendars": [LDN, {"name": "ALWAYS", "timezone": "UTC", "weekdays": list(range(7))}],
        "desks": {"FX-LDN": ["LDN"], "FX-24H": ["ALWAYS"]},
        "rules": list(rules),
        **fields,
    }
    return RuleSet.model_validate(body)


FACTS = OrderFacts(
    order_id="o1",
    client_id="c1",
    desk="FX-LDN",
    region="EMEA",
    counterparty="360T",
    currency="EUR",
    amount=Decimal("1000000"),
    instrument="EUR/USD",
    tenor=None,
    at=TUESDAY_10_LDN,
)


def facts(**changes: Any) -> OrderFacts:
    return replace(FACTS, **changes)
