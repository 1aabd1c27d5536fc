"""The parser's vocabulary as data: currencies, pair priority, nicknames, LPs, words.

Everything the parser recognises lives here, so a desk can read and review what the bot knows.
"""

from __future__ import annotations

# ISO 4217 active currency codes (funds and test codes excluded), plus CNH, the offshore renminbi
# that NLU.md ranks, and the four precious metals it trades against currencies (NLU.md v2).
CURRENCIES: frozenset[str] = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN
    BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW
    KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD
    NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES
    VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL CNH XAU XAG XPT XPD
    """.split()
)

# Codes that are also everyday English words ("try", "all", "top"...): written alone in lower case
# they are words, not currencies. Glued into a pair (eurtry, eur/try) or in capitals they count.
WORDLIKE_CODES: frozenset[str] = frozenset(
    "ALL AMD BAM BOB CUP GEL MAD MOP PEN RUB SOS TOP TRY".split()
)

# Market convention: the higher-ranked currency is the base; metals come before every currency.
# Currencies not listed rank right after USD, alphabetically (USD/MXN, EUR/TRY, TRY/JPY).
METALS: tuple[str, ...] = ("XAU", "XAG", "XPT", "XPD")
PRIORITY_HEAD: tuple[str, ...] = (*METALS, "EUR", "GBP", "AUD", "NZD", "USD")
PRIORITY_TAIL: tuple[str, ...] = ("CAD", "CHF", "NOK", "SEK", "DKK", "CNH", "HKD", "SGD", "JPY")
MAJORS: frozenset[str] = frozenset(PRIORITY_HEAD + PRIORITY_TAIL)

# Non-deliverable currencies: an `ndf` is allowed only for a pair with one of them (NLU.md v2).
NDF_CURRENCIES: frozenset[str] = frozenset(
    "INR KRW TWD BRL CLP COP IDR PHP MYR CNY KZT PEN".split()
)

# Pair nicknames, as (base, quote) in market convention.
PAIR_NICKNAMES: dict[str, tuple[str, str]] = {
    "cable": ("GBP", "USD"),
    "fiber": ("EUR", "USD"),
    "fibre": ("EUR", "USD"),
    "swissie": ("USD", "CHF"),
    "swissy": ("USD", "CHF"),
    "loonie": ("USD", "CAD"),
    "aussie": ("AUD", "USD"),
    "ozzie": ("AUD", "USD"),
    "kiwi": ("NZD", "USD"),
    "chunnel": ("EUR", "GBP"),
    "guppy": ("GBP", "JPY"),
    # Trader shorthand by initials, as written in chat (`e/u`).
    "e/u": ("EUR", "USD"),
    "g/u": ("GBP", "USD"),
    "a/u": ("AUD", "USD"),
    "n/u": ("NZD", "USD"),
    "u/j": ("USD", "JPY"),
    "e/j": ("EUR", "JPY"),
    "g/j": ("GBP", "JPY"),
    "a/j": ("AUD", "JPY"),
    "e/g": ("EUR", "GBP"),
}

# Several-word names and shorthand, read as one token before the words are (token level: `e / u`
# is the three tokens of `e/u`). Values are words of the tables below.
PHRASES: dict[str, str] = {
    "dollar yen": "usdjpy",
    "dollar - yen": "usdjpy",
    "euro yen": "eurjpy",
    "euro - yen": "eurjpy",
    "euro dollar": "eurusd",
    "euro swiss": "eurchf",
    "euro swissy": "eurchf",
    "euro sterling": "eurgbp",
    "dollar swiss": "usdchf",
    "dollar swissy": "usdchf",
    "dollar cad": "usdcad",
    "dollar loonie": "usdcad",
    "sterling yen": "gbpjpy",
    "pound yen": "gbpjpy",
    "aussie yen": "audjpy",
    "kiwi yen": "nzdjpy",
    "swiss yen": "chfjpy",
    "aussie kiwi": "audnzd",
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
    "hong kong dollars": "hkd",
    "hong kong dollar": "hkd",
    "singapore dollars": "sgd",
    "singapore dollar": "sgd",
    "offshore yuan": "cnh",
    "nothing done": "nd",
    "log in": "login",
    "forgot password": "resetpassword",
    "forgot my password": "resetpassword",
    "forgotten password": "resetpassword",
    "forgotten my password": "resetpassword",
    "reset password": "resetpassword",
    "reset my password": "resetpassword",
    "password reset": "resetpassword",
    "lost password": "resetpassword",
    "lost my password": "resetpassword",
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
    "give me a price": "price",
    "give me a quote": "quote",
    "give me a px": "px",
    "show me a price": "price",
    "bid offer": "quote",
    "bid / offer": "quote",
    "two way": "quote",
    "two - way": "quote",
    "2 way": "quote",
    "2 - way": "quote",
    "at market": "atmarket",
    "at mkt": "atmarket",
    "at best": "atmarket",
    "at the market": "atmarket",
    "do not": "dont",
    "don't": "dont",
    "i buy": "buy",
    "we buy": "buy",
    "i sell": "sell",
    "we sell": "sell",
    "i'll buy": "buy",
    "i'll sell": "sell",
    "we'll buy": "buy",
    "we'll sell": "sell",
    "for me": "please",
    "for us": "please",
    "buy / sell": "b/s",
    "sell / buy": "s/b",
    "b / s": "b/s",
    "s / b": "s/b",
    "t / n": "t/n",
    "tom / next": "t/n",
    "tom next": "t/n",
    "tomnext": "t/n",
    "o / n": "o/n",
    "overnight": "o/n",
    "s / n": "s/n",
    "spot / next": "s/n",
    "spot next": "s/n",
    "stop loss": "stop",
    "stop - loss": "stop",
    "stop limit": "stoplimit",
    "stop - limit": "stoplimit",
    "good till cancelled": "gtc",
    "good till canceled": "gtc",
    "good till cancel": "gtc",
    "good til cancelled": "gtc",
    "good til canceled": "gtc",
    "good until cancelled": "gtc",
    "good until canceled": "gtc",
    "good for the day": "day",
    "good for day": "day",
    "day order": "day",
    "good till": "gtd",
    "good til": "gtd",
    "good until": "gtd",
    "fill or kill": "fok",
    "immediate or cancel": "ioc",
    "as soon as": "once",
    "in case": "if",
    "i mean": "actually",
    "i meant": "actually",
    "no wait": "actually",
    "make it": "amend",
    "make that": "amend",
    "us $": "us$",
    "a $": "a$",
    "au $": "a$",
    "c $": "c$",
    "ca $": "c$",
    "nz $": "nz$",
    "hk $": "hk$",
    "s $": "s$",
    "i would like to": "please",
    "we would like to": "please",
    "i'd like to": "please",
    "we'd like to": "please",
    "id like to": "please",
    "i want to": "please",
    "we want to": "please",
    "i wanna": "please",
    "i need to": "please",
    "we need to": "please",
    "can you please": "please",
    "can you": "please",
    "can i": "please",
    "may i": "please",
    "thank you": "thanks",
}

# Politeness that never changes meaning (NLU.md); shown as filler by `--explain`.
POLITENESS: frozenset[str] = frozenset("please pls plz kindly thanks thx ty cheers tks tx".split())

CURRENCY_WORDS: dict[str, str] = {
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "greenback": "USD",
    "pound": "GBP",
    "pounds": "GBP",
    "sterling": "GBP",
    "quid": "GBP",
    "yen": "JPY",
    "franc": "CHF",
    "francs": "CHF",
    "yuan": "CNY",
    "renminbi": "CNY",
    "rmb": "CNY",
    "rupee": "INR",
    "rupees": "INR",
    "rand": "ZAR",
    "lira": "TRY",
    "zloty": "PLN",
    "nokkie": "NOK",
    "stockie": "SEK",
    "gold": "XAU",
    "silver": "XAG",
    "platinum": "XPT",
    "palladium": "XPD",
}

# Currency signs: the amount next to one is in that currency (NLU.md v2). `$` alone is the US
# dollar; `¥` is the yen or the yuan, whichever the pair has.
SIGNS: dict[str, tuple[str, ...]] = {
    "$": ("USD",),
    "us$": ("USD",),
    "€": ("EUR",),
    "£": ("GBP",),
    "¥": ("JPY", "CNY", "CNH"),
    "a$": ("AUD",),
    "c$": ("CAD",),
    "nz$": ("NZD",),
    "hk$": ("HKD",),
    "s$": ("SGD",),
}

# Liquidity providers the desk routes to; settings may replace this set.
DEFAULT_COUNTERPARTIES: frozenset[str] = frozenset("360T BARX CITI DB GS HSBC JPM UBS".split())
# Their names as clients write them (NLU.md v2); settings may replace these too.
DEFAULT_COUNTERPARTY_NAMES: dict[str, str] = {
    "goldman": "GS",
    "goldman sachs": "GS",
    "barclays": "BARX",
    "citi": "CITI",
    "citibank": "CITI",
    "deutsche": "DB",
    "deutsche bank": "DB",
    "jp morgan": "JPM",
    "jpmorgan": "JPM",
    "j.p. morgan": "JPM",
    "hsbc": "HSBC",
    "ubs": "UBS",
}
# Words that put a counterparty after them: `via jpmorgan`, `with gs`.
VIA_WORDS: frozenset[str] = frozenset({"via", "with", "thru", "through"})

BUY_WORDS: frozenset[str] = frozenset({"buy", "bid", "take", "lift", "mine", "buying", "bidding"})
SELL_WORDS: frozenset[str] = frozenset({"sell", "offer", "give", "hit", "yours", "selling"})
# Swap side words: the near leg's side first (`b/s`: buy near, sell far).
SWAP_SIDE_WORDS: dict[str, str] = {"b/s": "buy", "s/b": "sell"}
# Side words that are also everyday words ("take care", "give me a call"): they make a trading
# message only together with an instrument or an amount.
WEAK_SIDE_WORDS: frozenset[str] = frozenset({"take", "give", "lift", "hit", "mine", "yours"})
# With no instrument these take the last quote.
FROM_QUOTE_WORDS: frozenset[str] = frozenset({"mine", "yours", "lift", "hit"})
# Words naming a party: next to a side word they can turn it round ("sell me" is the client
# buying), so an order with one is `clarify` unless the phrase is plain (`buy from you`).
PARTY_WORDS: frozenset[str] = frozenset({"me", "us", "you", "u", "ya", "yourself", "ourselves"})

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
STOP_WORDS: frozenset[str] = frozenset({"stop", "stp", "sl"})
JOINERS: frozenset[str] = frozenset({"vs", "versus", "against", "v", "/", "-", "for"})

TIME_IN_FORCE: dict[str, str] = {
    "day": "DAY",
    "gfd": "DAY",
    "gtc": "GTC",
    "gtd": "GTD",
    "ioc": "IOC",
    "fok": "FOK",
}
# Product words: `swap` and `ndf` set the product; `outright` and `fwd` only say it plainly.
PRODUCT_WORDS: dict[str, str] = {
    "swap": "swap",
    "swaps": "swap",
    "ndf": "ndf",
    "outright": "outright",
    "outrights": "outright",
    "fwd": "forward",
    "forward": "forward",
    "forwards": "forward",
    "fwds": "forward",
}
# Swaps named by their two legs at once (o/n: today against tomorrow; t/n: tomorrow against spot).
SWAP_TENORS: dict[str, tuple[str, str]] = {"o/n": ("TOD", "TOM"), "t/n": ("TOM", "SPOT")}

TENOR_WORDS: dict[str, str] = {
    "sp": "SPOT",
    "spot": "SPOT",
    "tod": "TOD",
    "today": "TOD",
    "tom": "TOM",
    "tomorrow": "TOM",
    "tmrw": "TOM",
    "tmr": "TOM",
}
# Numeric tenors allowed, by unit: weeks 1-3, months 1-12, 18 and 24, years 1-2 (NLU.md v2).
TENOR_RANGES: dict[str, frozenset[int]] = {
    "w": frozenset(range(1, 4)),
    "m": frozenset((*range(1, 13), 18, 24)),
    "y": frozenset((1, 2)),
}
# Tenor units written out after a number: `1 week`, `3 months`, `1yr`.
TENOR_UNITS: dict[str, str] = {
    "w": "w",
    "wk": "w",
    "wks": "w",
    "week": "w",
    "weeks": "w",
    "mth": "m",
    "mths": "m",
    "mo": "m",
    "mos": "m",
    "month": "m",
    "months": "m",
    "y": "y",
    "yr": "y",
    "yrs": "y",
    "year": "y",
    "years": "y",
}
IMM_TENORS: dict[str, str] = {f"imm{n}": f"IMM{n}" for n in range(1, 5)}

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
    "mill": 1_000_000,
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

# Words that turn an instruction into its opposite: never an order.
NEGATIONS: frozenset[str] = frozenset(
    """not dont never no cancel nd without cant can't cannot wont won't didnt didn't doesnt
    doesn't shouldnt shouldn't wouldnt wouldn't isnt isn't nope nah""".split()
)
# A condition: never an order, and not a price request either.
CONDITIONS: frozenset[str] = frozenset(
    "if when once unless until till after before whenever provided assuming".split()
)
# A question: never an order; without a side word it may be a price request.
QUESTIONS: frozenset[str] = frozenset("would could should shall".split())
# Doubt: never an order.
HEDGES: frozenset[str] = frozenset(
    """maybe perhaps might possibly probably thinking considering wonder wondering i'd we'd
    think guess""".split()
)
# A correction inside the message: the client changed their mind mid-sentence (NLU.md v2).
CORRECTIONS: frozenset[str] = frozenset(
    "actually sorry sry wait oops correction scratch rather instead or typo mistake".split()
)
# Relative dates: never read as spot (NLU.md v2).
RELATIVE_WORDS: frozenset[str] = frozenset(
    """next coming following end eom eoq eoy eow weekend week month year later tonight
    monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs
    fri midweek""".split()
)
# Order types and instructions the chat desk does not take: never read as a plain order.
UNSUPPORTED: frozenset[str] = frozenset(
    """stoplimit stops tp profit trailing oco iceberg twap vwap algo fixing fix option options
    call put straddle s/n""".split()
)
# Amend words (NLU.md v2): `amend ORD-42 to 2m`, `make it 2m`.
AMEND_WORDS: frozenset[str] = frozenset(
    """amend change modify update adjust revise increase decrease reduce raise lower move
    amend""".split()
)
# Field names in an amend: `change ORD-9 price to 151.40`.
FIELD_WORDS: dict[str, str] = {
    "price": "limit_price",
    "px": "limit_price",
    "rate": "limit_price",
    "level": "limit_price",
    "limit": "limit_price",
    "lmt": "limit_price",
    "stop": "stop_price",
    "size": "quantity",
    "amount": "quantity",
    "amt": "quantity",
    "qty": "quantity",
    "quantity": "quantity",
    "notional": "quantity",
    "nominal": "quantity",
    "tenor": "tenor",
    "date": "tenor",
    "value": "tenor",
    "maturity": "tenor",
}
# Words that say nothing in a price request ("what's your price in eurusd?"), but in an order
# they are not accounted for.
QUOTE_FILLERS: frozenset[str] = frozenset(
    """what what's whats how is are your show tell see any there have got do does""".split()
)

# Words that carry no meaning in a trading message: the closed list of NLU.md v2.
FILLERS: frozenset[str] = frozenset(
    """a an the it that this for of in on to value valued val date from and is be some hi hello
    hey morning ok okay yes sure just now asap immediately fx do get trade deal order i we my
    our face nominal notional ccy currency can want like need good afternoon evening""".split()
)

HELP_WORDS: frozenset[str] = frozenset(
    {"help", "?", "hi", "hello", "hey", "menu", "start", "morning", "afternoon", "evening"}
)
CONFIRM_WORDS: frozenset[str] = frozenset(
    {"c", "confirm", "confirmed", "y", "yes", "ok", "okay", "done", "agreed", "agree"}
)
CANCEL_WORDS: frozenset[str] = frozenset({"x", "cancel", "no", "n", "nd", "cancelled"})
STATUS_WORDS: frozenset[str] = frozenset({"status", "orders"})
# `status all`, `all orders`: the status list with the cancelled and expired tickets too.
ALL_WORDS: frozenset[str] = frozenset({"all", "everything"})
LINK_WORDS: frozenset[str] = frozenset({"login", "link"})
REPORT_WORDS: frozenset[str] = frozenset({"report"})
UPLOAD_WORDS: frozenset[str] = frozenset({"upload"})
# "I forgot my password", "reset password please", "忘记密码": the self-service reset link.
RESET_WORD = "resetpassword"
RESET_BESIDE: frozenset[str] = frozenset(
    {"i", "have", "need", "want", "to", "can", "you", "how", "do", "help", "a", "new", "please"}
)
# Words that may stand beside a one-word command without changing it ("confirm it", "cancel that").
COMMAND_FILLERS: frozenset[str] = frozenset(
    {"it", "that", "this", "the", "order", "me", "my", "and", "there", "bot", "good"}
)

# Longest message the parser reads; anything longer is not one instruction.
MAX_MESSAGE_CHARS = 1_000
# Largest quantity accepted (ten trillion); more is a typo, not an order.
MAX_QUANTITY = 10**13
