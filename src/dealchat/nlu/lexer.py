"""Text to classified tokens: normalise, drop politeness, read words, numbers, pairs and ISINs."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, auto

from dealchat.nlu import tables as t
from dealchat.nlu.isin import ISIN_SHAPE, is_valid_isin
from dealchat.nlu.numbers import read_decimal, read_number_words, read_thirty_seconds


class Kind(Enum):
    PAIR = auto()  # value: (written first, written second)
    BAD_PAIR = auto()  # value: reason
    CUR = auto()  # value: ISO code
    ISIN = auto()  # value: upper-case code
    BAD_ISIN = auto()
    AMOUNT = auto()  # value: Amount
    TENOR = auto()  # value: tenor text
    BAD_NUMBER = auto()  # value: reason
    PRICE = auto()  # value: Decimal (32nds)
    DATE = auto()  # value: ISO date text
    REF = auto()  # value: ORD-42
    SIDE = auto()  # value: "buy" | "sell"
    QUOTE_WORD = auto()
    MARKET_WORD = auto()
    INFO_WORD = auto()
    LIMIT_WORD = auto()
    JOINER = auto()
    LP = auto()  # value: upper-case code
    NEGATION = auto()
    HEDGE = auto()
    UNSUPPORTED = auto()
    QMARK = auto()
    FILLER = auto()
    WORD = auto()  # anything else


@dataclass(frozen=True, slots=True)
class Amount:
    value: Decimal
    has_unit: bool
    tenor: str | None  # "1M" when the same text could be a tenor
    negative: bool = False


@dataclass(frozen=True, slots=True)
class Tok:
    kind: Kind
    text: str
    value: object = None


_RAW = re.compile(
    r"""
    (?P<date>\d{4}-\d{1,2}-\d{1,2})(?![\w.-])
    |(?P<time>\d{1,2}:\d{2}(?::\d{2})?)
    |(?P<ref>ord-[a-z0-9]+|ord\d+)(?![\w-])
    |(?P<b32>\d{1,3}-\d{2}[0-9+]?)(?![\w.,-])
    |(?P<num>[-\u2212]?\.?\d[\d,'.]*[a-z]*)
    |(?P<slash>[a-z]{3}[/-][a-z]{3})(?![\w/-])
    |(?P<word>[^\W\d_][\w']*)
    |(?P<punct>[@/?-])
    """,
    re.VERBOSE | re.IGNORECASE,
)


_HOW_TO_WRITE = "Please write amounts like 1m or 250k, and a price after 'at', e.g. 'at 1.0850'."
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _alternation(words: object) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))  # type: ignore[call-overload]


_REWRITES = {**dict.fromkeys(t.POLITENESS, " "), **{k: f" {v} " for k, v in t.PHRASES.items()}}
_REWRITE = re.compile(rf"(?<![\w'])(?:{_alternation(_REWRITES)})(?![\w'])", re.IGNORECASE)


_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_HYPHENATED = re.compile(rf"\b({_TENS})-({_UNITS})\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFKC, typographic apostrophes, then politeness removed and set phrases made one token."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    if "-" in text:
        text = _HYPHENATED.sub(r"\1 \2", text)
    return _REWRITE.sub(lambda m: _REWRITES[m.group(0).lower()], text)


def tokenize(text: str, lps: dict[str, str]) -> list[Tok]:
    """Normalised text -> tokens with their meaning; pairs written `eur vs usd` are joined."""
    raw = [(m.lastgroup or "", m.group(0)) for m in _RAW.finditer(text)]
    words = [r[1].lower() if r[0] == "word" else "" for r in raw]
    out: list[Tok] = []
    i = 0
    while i < len(raw):
        tok, i = _classify(raw, words, i, lps)
        out.append(tok)
    return _join_pairs(out)


def _classify(
    raw: list[tuple[str, str]], words: list[str], i: int, lps: dict[str, str]
) -> tuple[Tok, int]:
    group, text = raw[i]
    if group == "num":
        return _number(raw, words, i, lps)
    if group == "word":
        return _word_or_number_words(text, words, i, lps)
    if group == "slash":
        return _pair_word(text, text[:3] + text[4:], strict=True), i + 1
    return _simple(group, text), i + 1


def _simple(group: str, text: str) -> Tok:  # noqa: PLR0911 - one return per token kind
    if group == "date":
        try:
            return Tok(Kind.DATE, text, dt.date.fromisoformat(text).isoformat())
        except ValueError:
            return Tok(Kind.BAD_NUMBER, text, f"'{text}' is not a valid date (write YYYY-MM-DD).")
    if group == "time":
        return Tok(Kind.BAD_NUMBER, text, f"I can't take timed orders ('{text}') in chat.")
    if group == "ref":
        digits = text[3:].lstrip("-").upper()
        return Tok(Kind.REF, text, f"ORD-{digits}")
    if group == "b32":
        price = read_thirty_seconds(text)
        if price is None:
            return Tok(Kind.BAD_NUMBER, text, f"I can't read the price '{text}'. {_HOW_TO_WRITE}")
        return Tok(Kind.PRICE, text, price)
    if text == "@":
        return Tok(Kind.LIMIT_WORD, text)
    if text == "?":
        return Tok(Kind.QMARK, text)
    return Tok(Kind.JOINER, text)


def _number(
    raw: list[tuple[str, str]], words: list[str], i: int, lps: dict[str, str]
) -> tuple[Tok, int]:
    text = raw[i][1]
    if text.lower() in lps:
        return Tok(Kind.LP, text, lps[text.lower()]), i + 1
    digits = text.rstrip(_LETTERS)
    suffix = text[len(digits) :].lower()
    negative = digits[0] in "-\u2212"
    digits = digits.lstrip("-\u2212").rstrip(".,'")
    if digits.startswith("."):
        digits = "0" + digits
    value = read_decimal(digits)
    if value is None:
        return Tok(
            Kind.BAD_NUMBER, text, f"I can't read the number '{text}'. {_HOW_TO_WRITE}"
        ), i + 1
    if not suffix and i + 1 < len(raw) and words[i + 1] in t.UNITS:
        unit = words[i + 1]
        amount = Amount(value * t.UNITS[unit], True, None, negative)
        return Tok(Kind.AMOUNT, f"{text} {raw[i + 1][1]}", amount), i + 2
    return _suffixed(text, digits, value, suffix, negative), i + 1


def _suffixed(text: str, digits: str, value: Decimal, suffix: str, negative: bool) -> Tok:
    whole = int(value) if digits.isdigit() else None
    if not suffix:
        return Tok(Kind.AMOUNT, text, Amount(value, False, None, negative))
    if suffix in t.TENOR_RANGES and suffix != "m":
        if whole is not None and whole in t.TENOR_RANGES[suffix] and not negative:
            return Tok(Kind.TENOR, text, f"{whole}{suffix.upper()}")
        return Tok(Kind.BAD_NUMBER, text, _bad_tenor(text))
    if suffix in t.UNITS:
        tenor = None
        if suffix == "m" and whole is not None and whole in t.TENOR_RANGES["m"]:
            tenor = f"{whole}M"
        return Tok(Kind.AMOUNT, text, Amount(value * t.UNITS[suffix], True, tenor, negative))
    return Tok(Kind.BAD_NUMBER, text, f"I can't read '{text}'. {_HOW_TO_WRITE}")


def _bad_tenor(text: str) -> str:
    return (
        f"I don't know the tenor '{text.upper()}'. Use SPOT, TOD, TOM, 1W-3W, 1M-12M, 1Y "
        "or a date like 2026-12-15."
    )


def _word_or_number_words(
    text: str, words: list[str], i: int, lps: dict[str, str]
) -> tuple[Tok, int]:
    word = words[i]
    if word in t.NUMBER_WORDS or word in t.SCALE_WORDS or word in ("half", "a", "an"):
        read = read_number_words(words, i)
        if read is not None:
            value, end = read
            if end < len(words) and words[end] in t.UNITS and words[end] not in t.SCALE_WORDS:
                value *= t.UNITS[words[end]]
                end += 1
            return Tok(Kind.AMOUNT, " ".join(words[i:end]), Amount(value, value >= 1000, None)), end
    return _word(text, word, lps), i + 1


def _word(text: str, word: str, lps: dict[str, str]) -> Tok:  # noqa: PLR0911 - a lookup table in code form
    if word in _WORD_KINDS:
        kind, value = _WORD_KINDS[word]
        return Tok(kind, text, value)
    if word in lps:
        return Tok(Kind.LP, text, lps[word])
    if word in t.PAIR_NICKNAMES:
        return Tok(Kind.PAIR, text, t.PAIR_NICKNAMES[word])
    if word in t.CURRENCY_WORDS:
        return Tok(Kind.CUR, text, t.CURRENCY_WORDS[word])
    size = len(word)
    if size == 3:
        code = word.upper()
        if code in t.CURRENCIES and (code not in t.WORDLIKE_CODES or text.isupper()):
            return Tok(Kind.CUR, text, code)
    elif size == 6 and word.isascii() and word.isalpha():
        return _pair_word(text, word, strict=False)
    elif size == 12 and ISIN_SHAPE.fullmatch(word):
        code = word.upper()
        return Tok(Kind.ISIN if is_valid_isin(code) else Kind.BAD_ISIN, text, code)
    if any(char.isdigit() for char in word):
        return Tok(Kind.BAD_NUMBER, text, f"I can't read '{text}'. {_HOW_TO_WRITE}")
    return Tok(Kind.WORD, text)


def _pair_word(text: str, letters: str, *, strict: bool) -> Tok:
    """`eurusd` (or `eur/usd` when strict) -> PAIR; one known half and one unknown -> BAD_PAIR."""
    first, second = letters[:3].upper(), letters[3:].upper()
    known = (first in t.CURRENCIES, second in t.CURRENCIES)
    if all(known):
        if first == second:
            return Tok(Kind.BAD_PAIR, text, f"{first} against {first} is not a currency pair.")
        return Tok(Kind.PAIR, text, (first, second))
    anchor = t.CURRENCIES if strict else t.MAJORS
    if first in anchor or second in anchor:
        unknown = second if known[0] else first
        return Tok(Kind.BAD_PAIR, text, f"I don't know the currency '{unknown}'.")
    return Tok(Kind.WORD, text)


def _join_pairs(toks: list[Tok]) -> list[Tok]:
    """CUR JOINER CUR (`eur vs usd`, `euros against dollars`, `eur / usd`) -> one PAIR token."""
    if len(toks) < 3:
        return toks
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if (
            tok.kind is Kind.CUR
            and i + 2 < len(toks)
            and toks[i + 1].kind is Kind.JOINER
            and toks[i + 2].kind is Kind.CUR
        ):
            other = toks[i + 2]
            text = f"{tok.text} {toks[i + 1].text} {other.text}"
            if tok.value == other.value:
                out.append(Tok(Kind.BAD_PAIR, text, f"{tok.value} against itself is not a pair."))
            else:
                out.append(Tok(Kind.PAIR, text, (tok.value, other.value)))
            i += 3
            continue
        out.append(tok)
        i += 1
    return out


def _word_table() -> dict[str, tuple[Kind, object]]:
    table: dict[str, tuple[Kind, object]] = {}
    groups: list[tuple[Kind, object, frozenset[str]]] = [
        (Kind.FILLER, None, t.FILLERS),
        (Kind.JOINER, None, t.JOINERS),
        (Kind.HEDGE, None, t.HEDGES),
        (Kind.UNSUPPORTED, None, t.UNSUPPORTED),
        (Kind.NEGATION, None, t.NEGATIONS),
        (Kind.LIMIT_WORD, None, t.LIMIT_WORDS),
        (Kind.INFO_WORD, None, t.INFO_WORDS),
        (Kind.QUOTE_WORD, None, t.QUOTE_WORDS),
        (Kind.MARKET_WORD, None, frozenset({"atmarket"})),
        (Kind.SIDE, "sell", t.SELL_WORDS),
        (Kind.SIDE, "buy", t.BUY_WORDS),
    ]
    for kind, value, words in groups:
        for word in words:
            table[word] = (kind, value)
    for word, tenor in t.TENOR_WORDS.items():
        table[word] = (Kind.TENOR, tenor)
    return table


_WORD_KINDS = _word_table()
