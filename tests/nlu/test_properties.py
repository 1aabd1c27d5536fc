"""Properties of the parser over generated input (hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
import string
from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from dealchat.nlu import IntentKind, Parser, parse, rank
from dealchat.nlu.lexer import Kind, Lexicon, normalise, tokenize
from dealchat.nlu.numbers import read_thirty_seconds
from dealchat.nlu.readback import order_line, words_of
from dealchat.nlu.tables import (
    CURRENCIES,
    DEFAULT_COUNTERPARTIES,
    DEFAULT_COUNTERPARTY_NAMES,
    MAJORS,
    WORDLIKE_CODES,
)
from tests.nlu.helpers import same

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


# --- Version 2: the closed-world rule, negation and the read-back (NLU.md "Version 2") ---

V2_SIDES = ["buy", "sell", "bid", "offer", "i buy", "we sell", "买入", "賣出", "b/s", "s/b"]
V2_AMOUNTS = [
    "1m",
    "250k",
    "1,5m",
    "1'500'000",
    "2 yards",
    "one million",
    "half a million",
    "3 mio",
    "2 mln",
    "1 000 000",
    "1.000.000",
    "$1m",
    "€2m",
    "¥100m",
    "100万",
    "一百万",
    "0.5k",
    "2,500.5",
]
V2_INSTRUMENTS = [
    "eurusd",
    "usdjpy",
    "eur/usd",
    "cable",
    "fiber",
    "dollar yen",
    "eur vs usd",
    "usdeur",
    "xauusd",
    "usdkrw",
    "usdinr",
    "e/u",
    "欧元兑美元",
    "美元兑日元",
    "XS2462605671",
    "US912828XG50",
]
V2_TAILS = [
    "",
    "1w",
    "spot",
    "tom",
    "3m",
    "18m",
    "2y",
    "imm2",
    "15dec",
    "dec 20",
    "2027-03-15",
    "spot vs 1m",
    "1w/3m",
    "1m swap",
    "t/n",
    "3m ndf",
    "at 1.0850",
    "1.0850",
    "@ 151.20",
    "limit 99-16+",
    "stop 1.2650",
    "at 1.08 gtc",
    "at 1.08 gtd 20dec",
    "at 1.08 ioc",
    "at best",
    "at best fok",
    "via goldman",
    "with jp morgan",
    "360t",
    "pls",
    "thx",
    "三个月",
]
ORDER_TEXT = st.tuples(
    st.sampled_from(V2_SIDES),
    st.sampled_from(V2_AMOUNTS),
    st.sampled_from(V2_INSTRUMENTS),
    st.sampled_from(V2_TAILS),
    st.sampled_from(V2_TAILS),
).map(" ".join)
TODAY = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2030, 12, 31))
_LEX = Lexicon.build(DEFAULT_COUNTERPARTIES, DEFAULT_COUNTERPARTY_NAMES)


def _out_of_vocabulary(word: str) -> bool:
    toks = tokenize(normalise(word), _LEX)
    return bool(toks) and all(tok.kind is Kind.WORD for tok in toks)


OOV_WORDS = st.one_of(
    st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=10),
    st.text(alphabet="老板客户明白今早晚些资金账户", min_size=1, max_size=4),
).filter(_out_of_vocabulary)


@settings(max_examples=400, deadline=None)
@given(ORDER_TEXT, OOV_WORDS, st.integers(min_value=0, max_value=20), TODAY)
@example("buy 1m eurusd", "next", 3, dt.date(2026, 12, 7))
def test_a_word_outside_the_vocabulary_is_never_read_past(
    text: str, word: str, where: int, today: dt.date
) -> None:
    """The closed-world rule: insert any unknown word anywhere into an order and the answer is
    `clarify`, never an order (with the same or with different fields)."""
    if parse(text, today).intent is not IntentKind.ORDER:
        return
    parts = text.split()
    parts.insert(where % (len(parts) + 1), word)
    changed = parse(" ".join(parts), today)
    assert changed.intent is IntentKind.CLARIFY, (" ".join(parts), changed.to_dict())


NEGATIONS = ["don't", "do not", "not", "never", "no", "dont", "不要", "别"]


@settings(max_examples=300, deadline=None)
@given(ORDER_TEXT, st.sampled_from(NEGATIONS), TODAY)
def test_negating_a_side_word_never_gives_an_order(
    text: str, negation: str, today: dt.date
) -> None:
    if parse(text, today).intent is not IntentKind.ORDER:
        return
    negated = parse(f"{negation} {text}", today)
    assert negated.intent not in (IntentKind.ORDER, IntentKind.AMEND), negated.to_dict()
    side_first = text.split(" ", 1)
    glued = parse(f"{side_first[0]} {negation} {side_first[1]}", today)
    assert glued.intent not in (IntentKind.ORDER, IntentKind.AMEND), glued.to_dict()


@settings(max_examples=500, deadline=None)
@given(ORDER_TEXT, TODAY)
@example("b/s 1m eurusd 1w/3m", dt.date(2026, 12, 7))
@example("sell 2 mln usdkrw 3m ndf at 1.08 gtd 20dec", dt.date(2026, 12, 7))
@example("buy 0.5k xauusd at 1.08 gtc", dt.date(2026, 12, 7))
def test_every_order_read_back_parses_to_the_same_fields(text: str, today: dt.date) -> None:
    """What the bot reads back (the ticket's own words) is the order again, field for field."""
    intent = parse(text, today)
    if intent.intent is not IntentKind.ORDER or intent.from_quote:
        return
    line = order_line(words_of(intent))
    again = parse(line, today).to_dict()
    first = intent.to_dict()
    assert again.keys() == first.keys(), (text, line)
    assert all(same(name, first[name], again[name]) for name in first), (text, line, again)
