"""Forward outrights from deposit rates (issue 15 item 5): the pure formula, the curve, the
settings that feed it, and a forward quoted and filled through the web chat at its forward price."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.calendars import value_dates
from dealchat.db.session import unit_of_work
from dealchat.execution.models import Settlement
from dealchat.orders.models import Order
from dealchat.pricing.forwards import Curve, ForwardPriceSource, forward_factor, points
from dealchat.pricing.interfaces import Instrument, Price
from dealchat.pricing.simulated import USD_VALUE, SimulatedPriceSource
from dealchat.settings import PricingSettings
from tests.conftest import Clock
from tests.factories.chat import Chat
from tests.factories.identity import make_user

MONDAY = dt.date(2026, 12, 7)
FLAT = {
    "EUR": Curve.of({"1Y": Decimal("2")}),
    "USD": Curve.of({"1Y": Decimal("4")}),
    "JPY": Curve.of({"1Y": Decimal("0.5")}),
    "GBP": Curve.of({"1Y": Decimal("3.65")}),
}


class FixedSpot:
    name = "FIXED"

    def __init__(self, bid: str, ask: str) -> None:
        self.bid, self.ask = Decimal(bid), Decimal(ask)

    def price(self, instrument: Instrument, **_: object) -> Price:
        return Price(bid=self.bid, ask=self.ask, source=self.name)


def test_interest_parity_by_hand() -> None:
    # 90 days, EUR 2% and USD 4% both ACT/360: (1 + 0.04 * 90/360) / (1 + 0.02 * 90/360)
    assert forward_factor("EUR/USD", 90, FLAT) == Decimal("1.01") / Decimal("1.005")
    # GBP counts ACT/365, USD ACT/360
    expected = (1 + Decimal("0.04") * 90 / 360) / (1 + Decimal("0.0365") * 90 / 365)
    assert forward_factor("GBP/USD", 90, FLAT) == expected
    assert forward_factor("EUR/USD", 0, FLAT) == 1


def test_points_are_pips_and_jpy_pips_are_hundredths() -> None:
    assert points("EUR/USD", Decimal("1.08500"), Decimal("1.09040")) == Decimal("54.0")
    assert points("USD/JPY", Decimal("151.200"), Decimal("150.090")) == Decimal("-111.0")


def test_the_curve_is_linear_in_days_and_flat_outside() -> None:
    curve = Curve.of({"1M": Decimal("3"), "3M": Decimal("4"), "ON": Decimal("2")})
    month, quarter = Decimal(365) / 12, Decimal(365) / 4
    assert curve.rate(Decimal(0)) == Decimal("0.02")
    assert curve.rate(month) == Decimal("0.03")
    assert curve.rate((month + quarter) / 2) == Decimal("0.035")
    assert curve.rate(Decimal(400)) == Decimal("0.04")
    assert curve.rate(Decimal(-2)) == curve.rate(Decimal(2))


def test_a_forward_moves_bid_and_ask_by_the_same_factor_to_its_value_date() -> None:
    prices = ForwardPriceSource(FixedSpot("1.08490", "1.08510"), FLAT)
    three_months = prices.price(
        Instrument(pair="EUR/USD"), quantity=None, tenor="3M", trade_date=MONDAY
    )
    settles = value_dates.value_date("EUR/USD", "3M", MONDAY)
    days = (settles - value_dates.spot_date("EUR/USD", MONDAY)).days
    factor = forward_factor("EUR/USD", days, FLAT)
    assert three_months.value_date == settles == dt.date(2027, 3, 9)
    assert three_months.bid == (Decimal("1.08490") * factor).quantize(Decimal("0.00001"))
    assert three_months.ask == (Decimal("1.08510") * factor).quantize(Decimal("0.00001"))
    assert three_months.points is not None
    assert three_months.points[0] > 50
    usdjpy = prices.price(Instrument(pair="USD/JPY"), quantity=None, tenor="3M", trade_date=MONDAY)
    assert usdjpy.points is not None
    assert usdjpy.points[0] < 0


def test_spot_and_bonds_are_the_spot_source_unchanged_and_today_is_before_spot() -> None:
    prices = ForwardPriceSource(FixedSpot("1.08490", "1.08510"), FLAT)
    euro = Instrument(pair="EUR/USD")
    spot = prices.price(euro, quantity=None, tenor=None, trade_date=MONDAY)
    assert (spot.bid, spot.ask, spot.value_date) == (Decimal("1.08490"), Decimal("1.08510"), None)
    assert prices.price(euro, quantity=None, tenor="SPOT", trade_date=MONDAY) == spot
    bond = Instrument(isin="US912828XG55")
    assert prices.price(bond, quantity=None, tenor="3M").bid == Decimal("1.08490")
    today = prices.price(euro, quantity=None, tenor="TOD", trade_date=MONDAY)
    assert today.value_date == MONDAY
    assert today.bid < spot.bid


def test_a_value_date_fixed_on_the_ticket_wins_over_the_tenor() -> None:
    prices = ForwardPriceSource(FixedSpot("1.08490", "1.08510"), FLAT)
    euro = Instrument(pair="EUR/USD")
    fixed = dt.date(2027, 1, 15)
    by_date = prices.price(euro, quantity=None, tenor="3M", trade_date=MONDAY, value_date=fixed)
    assert by_date.value_date == fixed
    assert by_date == prices.price(euro, quantity=None, tenor="2027-01-15", trade_date=MONDAY)


def test_a_currency_without_rates_has_no_forward_price() -> None:
    prices = ForwardPriceSource(SimulatedPriceSource(Decimal(2)), FLAT)
    with pytest.raises(LookupError, match="no deposit rates for CHF"):
        prices.price(Instrument(pair="USD/CHF"), quantity=None, tenor="1M", trade_date=MONDAY)
    assert prices.price(Instrument(pair="USD/CHF"), quantity=None, tenor=None).bid > 0


@pytest.mark.parametrize(
    ("rates", "problem"),
    [
        ({"usd": {"1M": "4"}}, "a currency code"),
        ({"USD": {"13X": "4"}}, "is not ON or like 3M"),
        ({"USD": {"1M": "900"}}, "is not a percent"),
        ({"USD": {}}, "1 to 40 tenors"),
    ],
)
def test_settings_refuse_a_malformed_rate_table(rates: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        PricingSettings.model_validate({"rates": rates})


def test_the_shipped_rates_cover_every_simulated_currency() -> None:
    assert set(USD_VALUE) <= set(PricingSettings().rates)


def test_a_forward_is_quoted_with_its_value_date_and_filled_at_the_forward_price(
    client: TestClient, platform: Platform, clock: Clock
) -> None:
    alice = make_user(platform)
    chat = Chat(client, clock)
    chat.link_and_log_in(alice)
    today = clock.now.date()
    settles = value_dates.value_date("EUR/USD", "3M", today)
    forward = platform.desk.prices.price(
        Instrument(pair="EUR/USD"), quantity=None, tenor="3M", trade_date=today
    )
    spot = platform.desk.prices.price(Instrument(pair="EUR/USD"), quantity=None, tenor=None)
    assert forward.bid != spot.bid
    quoted = chat.text("mkt eurusd 1m 3m")
    assert quoted.startswith(f"EUR/USD 1,000,000 EUR 3M {settles.isoformat()}: "), quoted
    assert f"{forward.bid} / {forward.ask}" in quoted
    assert chat.text("mine").startswith("TO CONFIRM")
    assert chat.log_in(chat.link("c"), alice).status_code == 200
    filled = chat.text("c")
    assert f"at {forward.ask} " in filled, filled
    assert f"value date {settles.isoformat()}" in filled
    with unit_of_work(platform.sessions) as session:
        order = session.scalars(select(Order)).one()
        booked = {row.value_date for row in session.scalars(select(Settlement))}
    assert order.fill_price == forward.ask
    assert booked == {settles.isoformat()}  # what reconciliation matches against
