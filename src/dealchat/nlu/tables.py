"""The parser's vocabulary as data: currencies, pair priority, nicknames, LPs, words.

Everything the parser recognises lives here, so a desk can read and review what the bot knows.
"""

from __future__ import annotations

# ISO 4217 active currency codes (funds, precious metals and test codes excluded: an order in XAU is
# not an FX order this bot takes), plus CNH, the offshore renminbi that NLU.md ranks.
CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL CNH
    """.split()
)

# Codes that are also everyday English words ("try", "all", "top"...): written alone in lower case
# they are words, not currencies. Glued into a pair (eurtry, eur/try) or in capitals they count.
WORDLIKE_CODES: frozenset[str] = frozenset(
    "ALL AMD BAM BOB CUP GEL MAD MOP PEN RUB SOS TOP TRY".split()
)

# Market convention: the higher-ranked currency is the base. Currencies not listed rank right after
# USD, alphabetically (USD/MXN, EUR/TRY, TRY/JPY).
PRIORITY_HEAD: tuple[str, ...] = ("EUR", "GBP", "AUD", "NZD", "USD")
PRIORITY_TAIL: tuple[str, ...] = ("CAD", "CHF", "NOK", "SEK", "DKK", "CNH", "HKD", "SGD", "JPY")
MAJORS: frozenset[str] = frozenset(PRIORITY_HEAD + PRIORITY_TAIL)

# Pair nicknames, as (base, quote) in market convention.
PAIR_NICKNAMES: dict[str, tuple[str, str]] = {
    "cable": ("GBP", "USD"),
    "fiber": ("EUR", "USD"),
    "fibre": ("EUR", "USD"),
    "swissie": ("USD", "CHF"),
    "swissy": ("USD", "CHF"),
    "loonie": ("USD", "CAD"),
    "aussie": ("AUD", "USD"),
    "kiwi": ("NZD", "USD"),
}

# Several-word names, rewritten to one token before the words are read.
PHRASES: dict[str, str] = {
    "dollar yen": "usdjpy",
    "dollar-yen": "usdjpy",
    "euro yen": "eurjpy",
    "swiss francs": "chf",
    "swiss franc": "chf",
    "us dollars": "usd",
    "us dollar": "usd",
    "aussie dollars": "aud",
    "aussie dollar": "aud",
    "kiwi dollars": "nzd",
    "kiwi dollar": "nzd",
    "canadian dollars": "cad",
    "canadian dollar": "cad",
    "nothing done": "nd",
    "log in": "login",
    "log on": "login",
    "logon": "login",
    "sign in": "login",
    "signin": "login",
    "my orders": "orders",
    "order status": "status",
    "audit report": "report",
    "upload a document": "upload",
    "upload document": "upload",
    "upload a file": "upload",
    "send a document": "upload",
    "where is": "where",
    "where's": "where",
    "wheres": "where",
    "at market": "atmarket",
    "at mkt": "atmarket",
    "at best": "atmarket",
    "do not": "dont",
    "don't": "dont",
    "i buy": "buy",
    "we buy": "buy",
    "i sell": "sell",
    "we sell": "sell",
}

# Politeness that never changes meaning; removed first (longest first).
POLITENESS: tuple[str, ...] = (
    "i would like to",
    "we would like to",
    "i'd like to",
    "we'd like to",
    "id like to",
    "i want to",
    "we want to",
    "i wanna",
    "could you please",
    "can you please",
    "could you",
    "can you",
    "would you",
    "can i",
    "could i",
    "may i",
    "kindly",
    "please",
    "pls",
    "plz",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "cheers",
)

CURRENCY_WORDS: dict[str, str] = {
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
    "quid": "GBP",
    "yen": "JPY",
    "franc": "CHF",
    "francs": "CHF",
}

# Liquidity providers the desk routes to; settings may replace this set.
DEFAULT_COUNTERPARTIES: frozenset[str] = frozenset("360T BARX CITI DB GS HSBC JPM UBS".split())

BUY_WORDS: frozenset[str] = frozenset({"buy", "bid", "take", "lift", "mine", "buying", "bidding"})
SELL_WORDS: frozenset[str] = frozenset({"sell", "offer", "give", "hit", "yours", "selling"})
# Side words that are also everyday words ("take care", "give me a call"): they make a trading
# message only together with an instrument or an amount.
WEAK_SIDE_WORDS: frozenset[str] = frozenset({"take", "give", "lift", "hit", "mine", "yours"})
# With no instrument these take the last quote.
FROM_QUOTE_WORDS: frozenset[str] = frozenset({"mine", "yours", "lift", "hit"})

QUOTE_WORDS: frozenset[str] = frozenset(
    {
        "mkt",
        "market",
        "px",
        "price",
        "prices",
        "pricing",
        "quote",
        "quotes",
        "where",
        "rate",
        "level",
        "levels",
        "indication",
        "indic",
        "indicative",
    }
)
# Quote words that, next to a side, only say "at market".
MARKET_WORDS: frozenset[str] = frozenset({"mkt", "market", "atmarket"})
INFO_WORDS: frozenset[str] = frozenset({"info", "details", "terms", "description", "desc"})
LIMIT_WORDS: frozenset[str] = frozenset({"at", "limit", "lmt", "@"})
JOINERS: frozenset[str] = frozenset({"vs", "versus", "against", "v", "/", "-", "for"})

TENOR_WORDS: dict[str, str] = {
    "sp": "SPOT",
    "spot": "SPOT",
    "tod": "TOD",
    "today": "TOD",
    "tom": "TOM",
    "tomorrow": "TOM",
}
# Numeric tenors allowed, by unit: weeks 1-3, months 1-12, years 1.
TENOR_RANGES: dict[str, range] = {"w": range(1, 4), "m": range(1, 13), "y": range(1, 2)}

# Amount units, attached (1m, 100k) or as the next word (1 mio, 2 yards).
UNITS: dict[str, int] = {
    "k": 1_000,
    "thousand": 1_000,
    "thousands": 1_000,
    "grand": 1_000,
    "m": 1_000_000,
    "mm": 1_000_000,
    "mn": 1_000_000,
    "mln": 1_000_000,
    "mio": 1_000_000,
    "mil": 1_000_000,
    "million": 1_000_000,
    "millions": 1_000_000,
    "b": 1_000_000_000,
    "bn": 1_000_000_000,
    "bln": 1_000_000_000,
    "billion": 1_000_000_000,
    "billions": 1_000_000_000,
    "yard": 1_000_000_000,
    "yards": 1_000_000_000,
    "yd": 1_000_000_000,
    "yds": 1_000_000_000,
}

NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALE_WORDS: dict[str, int] = {
    "hundred": 100,
    "thousand": 1_000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
}

# Words that turn an instruction into its opposite or into a maybe: never an order.
NEGATIONS: frozenset[str] = frozenset(
    """not dont never no cancel nd without cant can't cannot wont won't didnt didn't doesnt
    doesn't shouldnt shouldn't wouldnt wouldn't isnt isn't""".split()
)
HEDGES: frozenset[str] = frozenset(
    """if maybe perhaps might should would could i'd we'd unless whether thinking considering
    possibly probably wonder wondering when once until till after before""".split()
)
# Order types and instructions the chat desk does not take: never read as a plain order.
UNSUPPORTED: frozenset[str] = frozenset(
    """stop stops sl loss tp profit trailing oco iceberg twap vwap algo fixing swap ndf option
    options call put straddle gtc gtd ioc fok""".split()
)

# Words that carry no meaning in a trading message.
FILLERS: frozenset[str] = frozenset(
    """a an the it that this me my us our you your i we for of in on to value with via from and
    is are be some hi hello hey morning ok okay yes sure just now can want like need pls
    please fx do get make trade deal order""".split()
)

HELP_WORDS: frozenset[str] = frozenset(
    {"help", "?", "hi", "hello", "hey", "menu", "start", "morning", "afternoon", "evening"}
)
CONFIRM_WORDS: frozenset[str] = frozenset(
    {"c", "confirm", "confirmed", "y", "yes", "ok", "okay", "done", "agreed", "agree"}
)
CANCEL_WORDS: frozenset[str] = frozenset({"x", "cancel", "no", "n", "nd", "cancelled"})
STATUS_WORDS: frozenset[str] = frozenset({"status", "orders"})
LINK_WORDS: frozenset[str] = frozenset({"login", "link"})
REPORT_WORDS: frozenset[str] = frozenset({"report"})
UPLOAD_WORDS: frozenset[str] = frozenset({"upload"})
# Words that may stand beside a one-word command without changing it ("confirm it", "cancel that").
COMMAND_FILLERS: frozenset[str] = frozenset(
    {"it", "that", "this", "the", "order", "me", "my", "please", "and", "there", "bot", "good"}
)

# Longest message the parser reads; anything longer is not one instruction.
MAX_MESSAGE_CHARS = 1_000
# Largest quantity accepted (ten trillion); more is a typo, not an order.
MAX_QUANTITY = 10**13
