"""Every rule of NLU.md, with cases that must be understood and cases that must not be."""

from __future__ import annotations

import pytest

from dealchat.nlu import IntentKind, Parser, parse
from tests.nlu.helpers import mismatches

Case = tuple[str, dict[str, object]]


def _check(cases: list[Case]) -> None:
    failures = {text: problems for text, expect in cases if (problems := mismatches(text, expect))}
    assert failures == {}


ORDER = {"intent": "order"}
QUOTE = {"intent": "quote"}
CLARIFY = {"intent": "clarify"}
UNKNOWN = {"intent": "unknown"}

COMMANDS: list[Case] = [
    ("help", {"intent": "help"}),
    ("?", {"intent": "help"}),
    ("hi", {"intent": "help"}),
    ("Hello!", {"intent": "help"}),
    ("menu", {"intent": "help"}),
    ("help?", {"intent": "help"}),
    ("hi there", {"intent": "help"}),
    ("good morning", {"intent": "help"}),
    ("c", {"intent": "confirm"}),
    ("C", {"intent": "confirm"}),
    ("confirm", {"intent": "confirm"}),
    ("confirmed.", {"intent": "confirm"}),
    ("y", {"intent": "confirm"}),
    ("yes please", {"intent": "confirm"}),
    ("ok", {"intent": "confirm"}),
    ("done", {"intent": "confirm"}),
    ("agreed", {"intent": "confirm"}),
    ("x", {"intent": "cancel"}),
    ("cancel", {"intent": "cancel"}),
    ("no", {"intent": "cancel"}),
    ("n", {"intent": "cancel"}),
    ("nothing done", {"intent": "cancel"}),
    ("ND", {"intent": "cancel"}),
    ("no thanks", {"intent": "cancel"}),
    ("cancel ORD-42", {"intent": "cancel", "order_ref": "ORD-42"}),
    ("cancel ord42", {"intent": "cancel", "order_ref": "ORD-42"}),
    ("status", {"intent": "status", "order_ref": None}),
    ("orders", {"intent": "status"}),
    ("my orders", {"intent": "status"}),
    ("status ORD-42", {"intent": "status", "order_ref": "ORD-42"}),
    ("status all", {"intent": "status", "order_ref": None, "all": True}),
    ("all orders", {"intent": "status", "all": True}),
    ("my orders all pls", {"intent": "status", "all": True}),
    ("状态 全部", {"intent": "status", "all": True}),
    ("全部訂單", {"intent": "status", "all": True}),
    ("all", UNKNOWN),
    ("cancel all", UNKNOWN),
    ("login", {"intent": "link"}),
    ("log in", {"intent": "link"}),
    ("link", {"intent": "link"}),
    ("sign in please", {"intent": "link"}),
    ("report", {"intent": "report"}),
    ("audit report", {"intent": "report"}),
    ("upload", {"intent": "upload"}),
    ("Upload please", {"intent": "upload"}),
    ("upload a document", {"intent": "upload"}),
    ("send a document", {"intent": "upload"}),
    ("yes no", CLARIFY),
    ("cancel ORD-1 ORD-2", CLARIFY),
    ("status ORD-1 and ORD-2", CLARIFY),
]

UNKNOWNS: list[Case] = [
    ("what's the weather like", UNKNOWN),
    ("", UNKNOWN),
    ("   ", UNKNOWN),
    ("👍", UNKNOWN),
    ("give me a call", UNKNOWN),
    ("take care", UNKNOWN),
    ("1m", UNKNOWN),
    ("see you at 5", UNKNOWN),
    ("helpful", UNKNOWN),
]

TOKENS: list[Case] = [
    ("BUY 1M EURUSD", {**ORDER, "side": "buy", "pair": "EUR/USD", "quantity": "1000000"}),
    (
        "ｂｕｙ １ｍ ｅｕｒｕｓｄ",
        {**ORDER, "side": "buy", "pair": "EUR/USD", "quantity": "1000000"},
    ),
    ("pls buy 1m eurusd thx", {**ORDER, "side": "buy"}),
    ("can you buy 1m eurusd please", {**ORDER, "side": "buy"}),
    ("i'd like to sell 1m eurusd", {**ORDER, "side": "sell"}),
    ("i\u2019d like to sell 1m eurusd", {**ORDER, "side": "sell"}),
    ("🙂 buy 1m eurusd 👍", {**ORDER, "side": "buy", "pair": "EUR/USD"}),
    ("buy 1m eurusd!!!", {**ORDER, "quantity": "1000000"}),
    ("(buy 1m eurusd)", {**ORDER, "quantity": "1000000"}),
]

AMOUNTS: list[Case] = [
    ("buy 100k eurusd", {**ORDER, "quantity": "100000"}),
    ("buy 100 k eurusd", {**ORDER, "quantity": "100000"}),
    ("buy 1m eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy 1mm eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy 1mio eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy 1 mio eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy 1 million eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy 2bn usdjpy", {**ORDER, "quantity": "2000000000"}),
    ("buy 2b usdjpy", {**ORDER, "quantity": "2000000000"}),
    ("buy 2 yards usdjpy", {**ORDER, "quantity": "2000000000"}),
    ("buy 2yds usdjpy", {**ORDER, "quantity": "2000000000"}),
    ("buy 2 yard usdjpy", {**ORDER, "quantity": "2000000000"}),
    ("buy 1.5m eurusd", {**ORDER, "quantity": "1500000"}),
    ("buy 1,500,000 eurusd", {**ORDER, "quantity": "1500000"}),
    ("buy 1'500'000 eurusd", {**ORDER, "quantity": "1500000"}),
    ("buy 1,5m eurusd", {**ORDER, "quantity": "1500000"}),
    ("buy 1,500m eurusd", {**ORDER, "quantity": "1500000000"}),
    ("buy 2500.5 eurusd", {**ORDER, "quantity": "2500.5"}),
    ("buy one million eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy two hundred thousand eurusd", {**ORDER, "quantity": "200000"}),
    ("buy half a million eurusd", {**ORDER, "quantity": "500000"}),
    ("buy a million eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy one and a half million eurusd", {**ORDER, "quantity": "1500000"}),
    ("buy two yards usdjpy", {**ORDER, "quantity": "2000000000"}),
    ("buy one hundred and fifty thousand eurusd", {**ORDER, "quantity": "150000"}),
    ("buy twenty-five million usdjpy", {**ORDER, "quantity": "25000000"}),
    ("buy twenty five million usdjpy", {**ORDER, "quantity": "25000000"}),
    ("buy 1500000 eurusd", {**ORDER, "quantity": "1500000"}),
    ("buy 1000 eurusd", {**ORDER, "quantity": "1000"}),
    ("buy .5m eurusd", {**ORDER, "quantity": "500000"}),
    ("buy 1,000.50 eurusd", {**ORDER, "quantity": "1000.50"}),
    ("buy 500 thousand eurusd", {**ORDER, "quantity": "500000"}),
    ("sell 2m usdjpy at 151", {**ORDER, "limit_price": "151"}),
]

BAD_AMOUNTS: list[Case] = [
    ("buy eurusd", {**CLARIFY, "missing": ["quantity"]}),
    ("buy 10 eurusd", {**CLARIFY, "missing": ["quantity"]}),
    ("buy 999 eurusd", CLARIFY),
    ("buy one eurusd", CLARIFY),
    ("buy -1m eurusd", CLARIFY),
    ("buy 0m eurusd", CLARIFY),
    ("buy 0 eurusd", CLARIFY),
    ("buy 1m 2m eurusd", CLARIFY),
    ("buy 1m eurusd 5k", CLARIFY),
    ("buy 1m eurusd 15m", CLARIFY),
    ("buy 1.2.3m eurusd", CLARIFY),
    ("buy 1,5,000 eurusd", CLARIFY),
    ("buy 100000000000000 eurusd", CLARIFY),
    ("buy 5x eurusd", CLARIFY),
]

PAIRS: list[Case] = [
    ("buy 1m eurusd", {"pair": "EUR/USD", "dealt_currency": "EUR", "side": "buy"}),
    ("buy 1m eur/usd", {"pair": "EUR/USD"}),
    ("buy 1m eur-usd", {"pair": "EUR/USD"}),
    ("buy 1m eur vs usd", {"pair": "EUR/USD"}),
    ("buy 1m eur against usd", {"pair": "EUR/USD"}),
    ("buy 1m eur / usd", {"pair": "EUR/USD"}),
    ("buy 1m cable", {"pair": "GBP/USD", "dealt_currency": "GBP"}),
    ("buy 1m fiber", {"pair": "EUR/USD"}),
    ("buy 1m fibre", {"pair": "EUR/USD"}),
    ("buy 1m swissie", {"pair": "USD/CHF"}),
    ("buy 1m swissy", {"pair": "USD/CHF"}),
    ("buy 1m loonie", {"pair": "USD/CAD"}),
    ("buy 1m aussie", {"pair": "AUD/USD"}),
    ("buy 1m kiwi", {"pair": "NZD/USD"}),
    ("buy 1m dollar yen", {"pair": "USD/JPY", "dealt_currency": "USD"}),
    ("buy 1m euro yen", {"pair": "EUR/JPY"}),
    ("buy 1m euros against dollars", {"pair": "EUR/USD", "dealt_currency": "EUR"}),
    ("buy 1m pounds vs yen", {"pair": "GBP/JPY"}),
    ("buy 1m sterling vs dollars", {"pair": "GBP/USD"}),
    ("buy 1m swiss francs vs yen", {"pair": "CHF/JPY"}),
    ("sell 1m francs vs euros", {"pair": "EUR/CHF", "side": "buy", "dealt_currency": "CHF"}),
    ("buy 1m EUR/TRY", {"pair": "EUR/TRY"}),
    ("buy 1m usdmxn", {"pair": "USD/MXN"}),
    ("buy 1m mxnusd", {"pair": "USD/MXN", "side": "sell"}),
    ("buy 1m tryjpy", {"pair": "TRY/JPY"}),
    ("buy 1m cadchf", {"pair": "CAD/CHF"}),
    ("buy 1m usdcnh", {"pair": "USD/CNH"}),
    ("buy 1m xauusd", {**ORDER, "pair": "XAU/USD", "dealt_currency": "XAU"}),
    ("buy 1m usdxau", {**ORDER, "pair": "XAU/USD", "side": "sell"}),
    ("buy 1m sgdjpy", {"pair": "SGD/JPY"}),
]

BAD_PAIRS: list[Case] = [
    ("buy 1m eurxyz", {**CLARIFY, "missing": ["pair"]}),
    ("buy 1m xyz/usd", CLARIFY),
    ("buy 1m eureur", CLARIFY),
    ("buy 1m eur vs eur", CLARIFY),
    ("buy 1m eur", {**CLARIFY, "missing": ["pair"]}),
    ("buy 1m euros", {**CLARIFY, "missing": ["pair"]}),
    ("buy 1m eur try", CLARIFY),
    ("buy 1m eurusd gbpusd", CLARIFY),
]

CONVENTION: list[Case] = [
    ("buy 1m usdeur", {"side": "sell", "pair": "EUR/USD", "dealt_currency": "USD"}),
    ("sell 1m usdeur", {"side": "buy", "pair": "EUR/USD"}),
    ("sell 100m jpy vs usd", {"side": "buy", "pair": "USD/JPY", "dealt_currency": "JPY"}),
    ("buy 1m usd vs jpy", {"side": "buy", "pair": "USD/JPY", "dealt_currency": "USD"}),
    ("buy eurusd 1m usd", {"side": "buy", "pair": "EUR/USD", "dealt_currency": "USD"}),
    ("buy 1m usd eurusd", {"side": "buy", "pair": "EUR/USD", "dealt_currency": "USD"}),
    ("buy 1m gbpeur", {"side": "sell", "pair": "EUR/GBP"}),
    ("buy 1m jpychf", {"side": "sell", "pair": "CHF/JPY"}),
    ("buy 1m chfnok", {"side": "buy", "pair": "CHF/NOK"}),
    ("buy 1m nzdaud", {"side": "sell", "pair": "AUD/NZD"}),
    ("buy eurusd 1m gbp", CLARIFY),
]

TENORS: list[Case] = [
    ("buy 1m eurusd", {"tenor": "SPOT"}),
    ("buy 1m eurusd sp", {"tenor": "SPOT"}),
    ("buy 1m eurusd spot", {"tenor": "SPOT"}),
    ("buy 1m eurusd tod", {"tenor": "TOD"}),
    ("buy 1m eurusd today", {"tenor": "TOD"}),
    ("buy 1m eurusd tom", {"tenor": "TOM"}),
    ("buy 1m eurusd tomorrow", {"tenor": "TOM"}),
    ("buy 1m eurusd 1w", {"tenor": "1W"}),
    ("buy 1m eurusd 3W", {"tenor": "3W"}),
    ("buy 1m eurusd 1m", {"tenor": "1M", "quantity": "1000000"}),
    ("buy 1m eurusd 12m", {"tenor": "12M"}),
    ("buy 1m eurusd 1y", {"tenor": "1Y"}),
    ("buy eurusd 3m 6m", {"tenor": "6M", "quantity": "3000000"}),
    ("buy eurusd 3m", {"tenor": "SPOT", "quantity": "3000000"}),
    ("buy 1m eurusd 2026-12-15", {"tenor": "2026-12-15"}),
    ("buy 1m eurusd 4w", CLARIFY),
    ("buy 1m eurusd 2y", {**ORDER, "tenor": "2Y"}),
    ("buy 1m eurusd 3y", CLARIFY),
    ("buy 1m eurusd 1w 1m", CLARIFY),
    ("buy 1m eurusd 1w spot", CLARIFY),
    ("buy 1m 1w eurusd", CLARIFY),
    ("buy 1m eurusd 2026-02-30", CLARIFY),
    ("buy 2m XS2462605671 1W", CLARIFY),
]

COUNTERPARTIES: list[Case] = [
    ("buy 1m eurusd 360t", {"counterparty": "360T"}),
    ("buy 1m eurusd 1w BARX", {"counterparty": "BARX"}),
    ("buy 1m eurusd citi", {"counterparty": "CITI"}),
    ("buy 1m eurusd db", {"counterparty": "DB"}),
    ("buy 1m eurusd gs", {"counterparty": "GS"}),
    ("sell 1m eurusd with hsbc", {"counterparty": "HSBC"}),
    ("buy 1m eurusd jpm", {"counterparty": "JPM"}),
    ("buy 1m eurusd ubs", {"counterparty": "UBS"}),
    ("buy 1m eurusd bnp", {**CLARIFY, "word": "bnp"}),
    ("buy 1m eurusd", {"counterparty": None}),
    ("gs buy 1m eurusd", CLARIFY),
    ("buy 1m eurusd gs ubs", CLARIFY),
]

PRICES: list[Case] = [
    ("sell 250k usdjpy at 151.20", {"order_type": "limit", "limit_price": "151.20"}),
    ("buy 1m eurusd @ 1.085", {"order_type": "limit", "limit_price": "1.085"}),
    ("buy 1m eurusd @1.085", {"order_type": "limit", "limit_price": "1.085"}),
    ("buy 1m eurusd limit 1.085", {"order_type": "limit", "limit_price": "1.085"}),
    ("buy 1m eurusd lmt 1.085", {"order_type": "limit", "limit_price": "1.085"}),
    ("buy 1m eurusd at 1,0850", {"limit_price": "1.0850"}),
    ("buy 1m eurusd", {"order_type": "market", "limit_price": None}),
    ("buy 1m eurusd at market", {"order_type": "market"}),
    ("buy 1m eurusd at best", {"order_type": "market"}),
    ("mkt eurusd 1m @ 1.08", {**QUOTE, "limit_price": "1.08"}),
    ("bid 5mm US912828XG50 @ 99-16+", {"limit_price": "99.515625"}),
    ("bid 5mm US912828XG50 @ 99-16", {"limit_price": "99.5"}),
    ("bid 5mm US912828XG50 @ 99-162", {"limit_price": "99.5078125"}),
    ("bid 5mm US912828XG50 99-16+", {"limit_price": "99.515625"}),
    ("offer 1m DE0001102580 101.25", {"side": "sell", "limit_price": "101.25"}),
    ("buy 1m eurusd limit", {**CLARIFY, "missing": ["limit_price"]}),
    ("buy 1m eurusd @ 1,085", CLARIFY),
    ("buy 1m eurusd @ 0", CLARIFY),
    ("buy 1m eurusd @ 1.08 @ 1.09", CLARIFY),
    ("buy 1m eurusd at mkt @ 1.08", CLARIFY),
    ("buy 1m eurusd @ 99-16", CLARIFY),
    ("bid 5mm US912828XG50 @ 99-32", CLARIFY),
    ("bid 5mm US912828XG50 @ 0-00", CLARIFY),
    ("buy 1m eurusd 1.0850", {**ORDER, "order_type": "limit", "limit_price": "1.085"}),
    ("buy 1m usdjpy 151", CLARIFY),
]

BONDS: list[Case] = [
    ("info XS2462605671", {"intent": "info", "asset_class": "bond", "isin": "XS2462605671"}),
    ("details XS2462605671", {"intent": "info", "isin": "XS2462605671"}),
    ("terms xs2462605671", {"intent": "info", "isin": "XS2462605671"}),
    ("quote XS2462605671 2mm", {**QUOTE, "asset_class": "bond", "quantity": "2000000"}),
    ("buy 2m XS2462605671", {**ORDER, "asset_class": "bond", "quantity": "2000000"}),
    ("sell 2mm US0378331005", {**ORDER, "side": "sell", "tenor": None, "pair": None}),
    ("buy 2m XS1234567890", CLARIFY),
    ("info XS1234567890", CLARIFY),
    ("buy 2m XS2462605671 US0378331005", CLARIFY),
    ("buy 2m XS2462605671 eurusd", CLARIFY),
    ("buy 2m eur XS2462605671", CLARIFY),
    ("buy XS2462605671 2m @ 99-16", {**ORDER, "quantity": "2000000", "limit_price": "99.5"}),
]

QUOTES: list[Case] = [
    ("mkt eurusd 100k", {**QUOTE, "side": None, "tenor": "SPOT"}),
    ("px cable 5m", {**QUOTE, "pair": "GBP/USD"}),
    ("price eur/usd 1m 1W", {**QUOTE, "tenor": "1W"}),
    ("where is eurusd in 5m?", {**QUOTE, "quantity": "5000000"}),
    ("where's cable", {**QUOTE, "pair": "GBP/USD", "quantity": None}),
    ("eurusd", {**QUOTE, "side": None}),
    ("1m eurusd", {**QUOTE, "quantity": "1000000"}),
    ("bid px eurusd 1m", {**QUOTE, "side": "buy"}),
    ("price", {**CLARIFY, "missing": ["instrument"]}),
    ("quote XS2462605671", {**QUOTE, "isin": "XS2462605671"}),
]

ORDERS: list[Case] = [
    ("bid 1m eurusd", {"side": "buy"}),
    ("take 1m eurusd", {"side": "buy"}),
    ("lift 1m eurusd", {"side": "buy"}),
    ("i buy 1m eurusd", {"side": "buy"}),
    ("we buy 1m eurusd", {"side": "buy"}),
    ("offer 1m eurusd", {"side": "sell"}),
    ("give 1m eurusd", {"side": "sell"}),
    ("hit 1m eurusd", {"side": "sell"}),
    ("we sell 1m eurusd", {"side": "sell"}),
    ("buy 1m eurusd mkt", {**ORDER, "order_type": "market"}),
    ("mine", {**ORDER, "side": "buy", "from_quote": True}),
    ("yours", {**ORDER, "side": "sell", "from_quote": True}),
    ("lift", {**ORDER, "side": "buy", "from_quote": True}),
    ("hit", {**ORDER, "side": "sell", "from_quote": True}),
    ("mine 5m", {**ORDER, "from_quote": True, "quantity": "5000000"}),
    ("mine 1m eurusd", {**ORDER, "from_quote": False, "pair": "EUR/USD"}),
    ("buy 1m eurusd", {"from_quote": False}),
    ("buy 1m eurusd stop loss at 1.08", {**ORDER, "order_type": "stop", "stop_price": "1.08"}),
    ("sell 1m usdjpy at 151.20 gtc", {**ORDER, "time_in_force": "GTC"}),
    ("buy 1.000.000 eurusd", {**ORDER, "quantity": "1000000"}),
    ("buy", {**CLARIFY, "missing": ["instrument", "quantity"]}),
    ("mine 5", CLARIFY),
]

ONE_ORDER: list[Case] = [
    ("buy 1m eurusd and sell 1m gbpusd", CLARIFY),
    ("buy 1m eurusd and 1m gbpusd", CLARIFY),
    ("buy and sell 1m eurusd", CLARIFY),
    ("buy 1m eurusd, buy 2m eurusd", CLARIFY),
]

NEVER_AN_ORDER: list[Case] = [
    ("don't buy 1m eurusd", CLARIFY),
    ("do not buy 1m eurusd", CLARIFY),
    ("never sell 1m eurusd", CLARIFY),
    ("should i buy 1m eurusd?", CLARIFY),
    ("maybe buy 1m eurusd", CLARIFY),
    ("if eurusd hits 1.10 buy 1m", CLARIFY),
    ("no, buy 1m eurusd", CLARIFY),
    ("buy 1m eurusd at 3pm", CLARIFY),
    ("buy 1m eurusd info", CLARIFY),
    ("i'd buy 1m eurusd", CLARIFY),
    ("can't buy 1m eurusd", CLARIFY),
    ("buy 1m eurusd when it hits 1.08", CLARIFY),
    ("can you buy 1m eurusd?", CLARIFY),
    ("take profit at 1.10 on 1m eurusd", CLARIFY),
    ("buy 1m eurusd at 9:30", CLARIFY),
    ("buy 1m eurusd tomorrow at 9", CLARIFY),
    ("buy 1m eurusd 1e6", CLARIFY),
    ("buy 1.000 eurusd", CLARIFY),
    ("x" * 2000, CLARIFY),
]

GROUPS = {
    "commands": COMMANDS,
    "unknown": UNKNOWNS,
    "tokens": TOKENS,
    "amounts": AMOUNTS,
    "bad_amounts": BAD_AMOUNTS,
    "pairs": PAIRS,
    "bad_pairs": BAD_PAIRS,
    "market_convention": CONVENTION,
    "tenors": TENORS,
    "counterparties": COUNTERPARTIES,
    "prices": PRICES,
    "bonds": BONDS,
    "quotes": QUOTES,
    "orders": ORDERS,
    "one_order_per_message": ONE_ORDER,
    "never_an_order": NEVER_AN_ORDER,
}


@pytest.mark.parametrize("group", GROUPS)
def test_rule_group(group: str) -> None:
    _check(GROUPS[group])


def test_every_clarify_has_a_plain_reason() -> None:
    texts = [text for cases in GROUPS.values() for text, expect in cases if expect == CLARIFY]
    for text in texts:
        intent = parse(text)
        assert intent.intent is IntentKind.CLARIFY, text
        assert intent.reason, text
        assert "Traceback" not in intent.reason
        assert intent.reason[0].isupper() or intent.reason[0] in "'\"", intent.reason


def test_missing_fields_name_output_fields_or_instrument() -> None:
    allowed = {"quantity", "pair", "limit_price", "instrument", "isin"}
    for cases in GROUPS.values():
        for text, _ in cases:
            assert set(parse(text).missing) <= allowed, text


def test_explain_names_the_words_that_became_fields() -> None:
    intent = parse("buy 1m eurusd 1W 360t @ 1.0850")
    pairs = [(part.token, part.field) for part in intent.explanation]
    assert pairs == [
        ("buy", "side"),
        ("1m", "quantity"),
        ("eurusd", "pair"),
        ("1W", "tenor"),
        ("360t", "counterparty"),
        ("@", "order_type"),
        ("1.0850", "limit_price"),
    ]


def test_configured_counterparties_replace_the_defaults() -> None:
    parser = Parser(counterparties=frozenset({"BNP"}))
    assert parser.parse("buy 1m eurusd bnp").counterparty == "BNP"
    assert parser.parse("buy 1m eurusd 360t").intent is IntentKind.CLARIFY
    assert parser.parse("buy 1m eurusd gs").intent is IntentKind.CLARIFY
    assert parser.parse("buy 1m eurusd via goldman").intent is IntentKind.CLARIFY
    named = Parser(counterparties=frozenset({"BNP"}), names={"bnp paribas": "BNP"})
    assert named.parse("buy 1m eurusd via bnp paribas").counterparty == "BNP"
