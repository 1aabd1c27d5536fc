"""Properties of the parser over generated input (hypothesis)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dealchat.nlu import IntentKind, Parser, parse, rank
from dealchat.nlu.numbers import read_thirty_seconds
from dealchat.nlu.tables import CURRENCIES, MAJORS, WORDLIKE_CODES

INTENTS = {kind.value for kind in IntentKind}
SIDE_WORDS = ["buy", "sell", "bid", "offer", "take", "give", "lift", "hit", "i buy", "we sell"]
AMOUNTS = [
    "1m",
    "250k",
    "1,5m",
    "1'500'000",
    "2 yards",
    "one million",
    "half a million",
    "10",
    "-1m",
    "0m",
    "1.5mm",
    "3 mio",
    "2bn",
]
PAIRS = [
    "eurusd",
    "usdjpy",
    "eur/usd",
    "gbp-usd",
    "cable",
    "fiber",
    "dollar yen",
    "eur vs usd",
    "usdeur",
    "eurxyz",
    "eureur",
    "euros against dollars",
]
OTHER = [
    "1W",
    "tom",
    "spot",
    "2026-12-15",
    "360t",
    "GS",
    "@ 1.0850",
    "at 151.20",
    "limit 99",
    "XS2462605671",
    "XS1234567890",
    "99-16+",
    "mine",
    "yours",
    "c",
    "x",
    "status",
    "ORD-42",
    "pls",
    "thx",
    "?",
    "!",
    "🙂",
    "and",
    "not",
    "if",
    "ｂｕｙ",
    "mkt",
    "px",
    "info",
]
TOKENS = st.sampled_from(SIDE_WORDS + AMOUNTS + PAIRS + OTHER)
TRADING_TEXT = st.lists(TOKENS, min_size=1, max_size=8).map(" ".join)
ANY_TEXT = st.one_of(st.text(max_size=300), TRADING_TEXT)
# Codes that read as a currency when glued into a 6-letter pair.
PAIR_CODES = sorted(code for code in CURRENCIES if code not in WORDLIKE_CODES or code in MAJORS)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
@example("\x00\x00")
@example("buy " * 400)
def test_no_input_crashes_and_every_answer_is_json(text: str) -> None:
    out = parse(text).to_dict()
    assert out["intent"] in INTENTS
    json.dumps(out, ensure_ascii=False)
    if out["intent"] == "clarify":
        assert isinstance(out["reason"], str)
        assert out["reason"]


@settings(max_examples=300, deadline=None)
@given(TRADING_TEXT)
def test_order_quantities_are_positive_and_plain(text: str) -> None:
    intent = parse(text)
    if intent.intent is IntentKind.ORDER and intent.quantity is not None:
        assert intent.quantity > 0
        shown = intent.to_dict()["quantity"]
        assert isinstance(shown, str)
        assert "E" not in shown
        assert "e" not in shown


@settings(max_examples=200, deadline=None)
@given(ANY_TEXT)
def test_parsing_is_deterministic(text: str) -> None:
    first = parse(text)
    assert parse(text) == first
    assert Parser().parse(text).to_dict() == first.to_dict()
    assert parse(text).explanation == first.explanation


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(PAIR_CODES),
    st.sampled_from(PAIR_CODES),
    st.sampled_from(["buy", "sell", "bid", "offer"]),
    st.sampled_from(["1m", "250k", "2bn", "1,5m"]),
)
def test_inverted_pairs_flip_the_side(first: str, second: str, side: str, amount: str) -> None:
    straight = parse(f"{side} {amount} {first}{second}".lower())
    inverted = parse(f"{side} {amount} {second}{first}".lower())
    if first == second:
        assert straight.intent is IntentKind.CLARIFY
        return
    assert straight.intent is IntentKind.ORDER
    assert inverted.intent is IntentKind.ORDER
    assert straight.pair == inverted.pair
    assert straight.side is not None
    assert inverted.side is not None
    assert straight.side != inverted.side
    base, quote = str(straight.pair).split("/")
    assert rank(base) < rank(quote)
    assert straight.dealt_currency == first
    assert inverted.dealt_currency == second


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=0, max_value=200),
    st.integers(min_value=0, max_value=31),
    st.sampled_from([None, "+", *"01234567"]),
)
def test_thirty_seconds_are_exact(whole: int, ticks: int, eighth: str | None) -> None:
    text = f"{whole}-{ticks:02d}{eighth or ''}"
    eighths = 0 if eighth is None else 4 if eighth == "+" else int(eighth)
    exact = Fraction(whole) + (Fraction(ticks) + Fraction(eighths, 8)) / 32
    value = read_thirty_seconds(text)
    assert value is not None
    assert Fraction(value) == exact
    order = parse(f"bid 1m US912828XG50 @ {text}")
    if exact > 0:
        assert order.limit_price is not None
        assert Fraction(order.limit_price) == exact
    else:
        assert order.intent is IntentKind.CLARIFY


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=10**6), st.sampled_from(["k", "m", "bn"]))
def test_amounts_with_units_are_exact(number: int, unit: str) -> None:
    factor = {"k": 10**3, "m": 10**6, "bn": 10**9}[unit]
    intent = parse(f"buy {number}{unit} eurusd")
    if number * factor > 10**13:
        assert intent.intent is IntentKind.CLARIFY
        return
    assert intent.intent is IntentKind.ORDER
    assert intent.quantity == Decimal(number * factor)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1000, max_value=10**12))
def test_thousands_separators_round_trip(number: int) -> None:
    commas = f"{number:,}"
    apostrophes = commas.replace(",", "'")
    for written in (commas, apostrophes, str(number)):
        assert parse(f"sell {written} usdjpy").quantity == Decimal(number), written


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1, max_value=999))
def test_small_amounts_without_unit_are_never_orders(number: int) -> None:
    assert parse(f"buy {number} eurusd").intent is IntentKind.CLARIFY
