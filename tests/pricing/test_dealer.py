"""The pure dealer policy: which quotes a dealer prices, and why."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dealchat.pricing.dealer import DealerPolicy, DealerReason, QuoteAsk, base_amount, dealer_reason
from dealchat.settings import PricingSettings

MID = Decimal("1.0850")
POLICY = DealerPolicy(above=Decimal(50_000_000), instruments=frozenset({"USD/TRY"}))


@pytest.mark.parametrize(
    ("ask", "mid", "reason"),
    [
        (QuoteAsk("EUR/USD", None, "EUR", Decimal(1_000_000)), MID, None),
        (QuoteAsk("EUR/USD", None, "EUR", Decimal(50_000_000)), MID, None),
        (QuoteAsk("EUR/USD", None, "EUR", Decimal(50_000_001)), MID, DealerReason.SIZE),
        (QuoteAsk("EUR/USD", None, "EUR", None), MID, None),
        # 54,250,000 USD is 50,000,000 EUR at the mid: not above; 60m USD is
        (QuoteAsk("EUR/USD", None, "USD", Decimal(54_250_000)), MID, None),
        (QuoteAsk("EUR/USD", None, "USD", Decimal(60_000_000)), MID, DealerReason.SIZE),
        (QuoteAsk("USD/BRL", None, "USD", Decimal(1_000_000)), None, DealerReason.NO_PRICE_SOURCE),
        (QuoteAsk("USD/TRY", None, "USD", Decimal(1_000_000)), Decimal(34), DealerReason.LISTED),
        (QuoteAsk(None, "XS2462605671", None, Decimal(2_000_000)), Decimal(99), DealerReason.BOND),
    ],
)
def test_who_prices_a_quote(
    ask: QuoteAsk, mid: Decimal | None, reason: DealerReason | None
) -> None:
    assert dealer_reason(POLICY, ask, mid=mid) == reason


def test_bonds_can_be_left_to_the_bot_and_listed_by_isin() -> None:
    bond = QuoteAsk(None, "XS2462605671", None, Decimal(2_000_000))
    assert dealer_reason(DealerPolicy(bonds=False), bond, mid=Decimal(99)) is None
    listed = DealerPolicy(bonds=False, instruments=frozenset({"XS2462605671"}))
    assert dealer_reason(listed, bond, mid=Decimal(99)) is DealerReason.LISTED


def test_base_amount_converts_a_quote_currency_size_at_the_mid() -> None:
    assert base_amount(QuoteAsk("EUR/USD", None, "USD", Decimal(2170)), Decimal(2)) == 1085
    assert base_amount(QuoteAsk("EUR/USD", None, "USD", Decimal(2170)), None) is None
    assert base_amount(QuoteAsk("EUR/USD", None, None, Decimal(7)), None) == 7


def test_settings_make_the_policy_and_refuse_a_bad_instrument() -> None:
    settings = PricingSettings(dealer_above=Decimal(10), dealer_instruments=["usd/try"])
    assert settings.dealer_policy() == DealerPolicy(Decimal(10), frozenset({"USD/TRY"}), True)
    assert PricingSettings().rfq_wait_seconds == 300
    with pytest.raises(ValueError, match="a pair like USD/TRY or an ISIN"):
        PricingSettings(dealer_instruments=["eurusd"])
