"""Text to classified tokens: normalise, cut Chinese into words, read set phrases, words, numbers,
dates, pairs and ISINs. Every piece of the message becomes one token (politeness and filler too),
so the parser can account for each word (the closed-world rule, NLU.md v2)."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum, auto
from typing import NamedTuple

from dealchat.nlu import chinese
from dealchat.nlu import tables as t
from dealchat.nlu.dates import MONTH_PATTERN, MONTHS, DayMonth
from dealchat.nlu.isin import ISIN_SHAPE, is_valid_isin
from dealchat.nlu.numbers import read_decimal, read_number_words, read_thirty_seconds


class Kind(IntEnum):  # IntEnum: hashed in C, the parser looks kinds up often
    PAIR = auto()  # value: (written first, written second)
    BAD_PAIR = auto()  # value: reason
    CUR = auto()  # value: ISO code
    SIGN = auto()  # value: the ISO codes the sign may mean
    ISIN = auto()  # value: upper-case code
    BAD_ISIN = auto()
    AMOUNT = auto()  # value: Amount
    TENOR = auto()  # value: tenor text
    SWAP_TENOR = auto()  # value: (near, far)
    DATE = auto()  # value: dt.date (ISO) or DayMonth (as written)
    BAD_NUMBER = auto()  # value: reason
    PRICE = auto()  # value: Decimal (32nds)
    REF = auto()  # value: ORD-42
    SIDE = auto()  # value: "buy" | "sell"
    QUOTE_WORD = auto()
    MARKET_WORD = auto()
    INFO_WORD = auto()
    LIMIT_WORD = auto()
    STOP_WORD = auto()
    TIF = auto()  # value: DAY, GTC, GTD, IOC, FOK
    PRODUCT = auto()  # value: swap, ndf, outright, forward
    JOINER = auto()
    LP = auto()  # value: upper-case code
    VIA = auto()
    PARTY = auto()
    NEGATION = auto()
    CONDITION = auto()
    QUESTION = auto()
    HEDGE = auto()
    CORRECTION = auto()
    RELATIVE = auto()
    AMEND = auto()
    FIELD = auto()  # value: the field an amend names
    UNSUPPORTED = auto()
    QMARK = auto()
    POLITE = auto()
    FILLER = auto()
    QUOTE_FILLER = auto()
    WORD = auto()  # anything else: a word the parser does not know


class Amount(NamedTuple):  # a named tuple, like `Tok`: cheap to make
    value: Decimal
    has_unit: bool
    tenor: str | None  # "1M" when the same text could be a tenor
    negative: bool = False
    plain_decimal: bool = False  # written with a decimal point and no unit: can be a price


class Tok(NamedTuple):  # a named tuple: made several times per message, cheaper than a dataclass
    kind: Kind
    text: str  # as the client wrote it
    value: object = None
    norm: str = ""  # the vocabulary word it was read as (`買入` -> `buy`, `nothing done` -> `nd`)

    @property
    def word(self) -> str:
        return self.norm or self.text.lower()


_KNOWN_WORDS = 20_000  # words remembered per lexicon (`Lexicon.words`) before starting afresh


@dataclass(frozen=True)
class Lexicon:
    """The words that depend on settings: liquidity providers by code and by name; and the
    tokens single words were read as (`_word` is pure for a given lexicon), remembered."""

    lps: dict[str, str]
    phrases: dict[str, tuple[tuple[tuple[str, ...], str], ...]]
    words: dict[tuple[str, str], Tok] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, codes: frozenset[str], names: dict[str, str]) -> Lexicon:
        lps = {code.lower(): code.upper() for code in codes}
        wanted = set(lps.values())
        phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        nicknames = {" / ".join(n.split("/")): n for n in t.PAIR_NICKNAMES if "/" in n}
        for phrase, word in {**t.PHRASES, **nicknames}.items():
            parts = tuple(phrase.split())
            phrases.setdefault(parts[0], []).append((parts, word))
        for name, code in names.items():
            if code.upper() not in wanted:
                continue
            parts = tuple(re.findall(r"\w+", name.lower()))
            joined = " ".join(parts)
            lps[joined] = code.upper()
            if len(parts) > 1:
                phrases.setdefault(parts[0], []).append((parts, joined))
        ordered = {
            first: tuple(sorted(found, key=lambda p: len(p[0]), reverse=True))
            for first, found in phrases.items()
        }
        return cls(lps, ordered)

    def phrase_at(self, words: list[str], i: int) -> tuple[str, int] | None:
        for parts, word in self.phrases.get(words[i], ()):
            size = len(parts)
            if tuple(words[i : i + size]) == parts:
                return word, size
        return None


# The alternatives are grouped by the character they can start with (a digit, `.` or a minus; a
# letter; anything else), each group keeping their order, so at any position only the ones that
# can match there are tried, and the first that matches is the one the ungrouped order gives.
_RAW = re.compile(
    rf"""
    \s*+  # whitespace skipped at once (no token starts with it)
    (?:(?=[\d.\-\u2212])(?:
      (?P<date>\d{{4}}-\d{{1,2}}-\d{{1,2}})(?![\w.-])
      |(?P<time>\d{{1,2}}:\d{{2}}(?::\d{{2}})?)
      |(?P<dm>\d{{1,2}}(?:st|nd|rd|th)?[ -]?(?:{MONTH_PATTERN})(?:[ -]?(?:\d{{4}}|\d{{2}}))?)
        (?![\w.,'])
      |(?P<b32>\d{{1,3}}-\d{{2}}[0-9+]?)(?![\w.,-])
      |(?P<spaced>\d{{1,3}}(?:[ ]\d{{3}})+)(?![\w.,'])
      |(?P<num>(?:(?<!\w)[-\u2212])?\.?\d[\d,'.]*[a-z]*))
    |(?=[^\W\d_])(?:
      (?P<ref>ord-[a-z0-9]+|ord\d+)(?![\w-])
      |(?P<md>(?:{MONTH_PATTERN})[ -]?\d{{1,2}}(?:st|nd|rd|th)?(?:,?[ ](?:\d{{4}}))?)(?![\w.,'])
      |(?P<slash>[a-z]{{3}}[/-][a-z]{{3}})(?![\w/-])
      |(?P<word>[^\W\d_][\w']*))
    |(?P<sign>[$€£¥])
    |(?P<punct>[@/?-]))
    """,
    re.VERBOSE | re.IGNORECASE,
)
_DATE_PARTS = re.compile(rf"(\d+)|({MONTH_PATTERN})", re.IGNORECASE)


_HOW_TO_WRITE = "Please write amounts like 1m or 250k, and a price after 'at', e.g. 'at 1.0850'."
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Chinese units join the English ones: `100万`, `3个月`.
_AMOUNT_UNITS = {**t.UNITS, **chinese.UNITS}
_TENOR_UNITS = {**t.TENOR_UNITS, **chinese.TENOR_UNITS}

_TENS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
_UNITS = "one|two|three|four|five|six|seven|eight|nine"
_HYPHENATED = re.compile(rf"\b({_TENS})-({_UNITS})\b", re.IGNORECASE)


def normalise(text: str) -> str:
    """NFKC, typographic apostrophes, `twenty-five` as two words, Chinese cut into words.
    (ASCII text is its own NFKC form and holds no typographic apostrophe and no Chinese.)"""
    if text.isascii():
        return _HYPHENATED.sub(r"\1 \2", text) if "-" in text else text
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    if "-" in text:
        text = _HYPHENATED.sub(r"\1 \2", text)
    return chinese.segment(text)


def tokenize(text: str, lex: Lexicon) -> list[Tok]:
    """Normalised text -> tokens with their meaning; pairs written `eur vs usd` are joined."""
    raw = [(m.lastgroup or "", m.group(m.lastgroup or 0)) for m in _RAW.finditer(text)]
    words = [chinese.AS_WORD.get(r[1], r[1].lower()) for r in raw]
    out: list[Tok] = []
    i, count = 0, len(raw)
    while i < count:
        phrase = lex.phrase_at(words, i) if words[i] in lex.phrases else None
        if phrase is not None:
            word, size = phrase
            written = " ".join(r[1] for r in raw[i : i + size])
            out.append(_word(written, word, lex))
            i += size
            continue
        tok, i = _classify(raw, words, i, lex)
        out.append(tok)
    return _join_pairs(out)


def _classify(  # noqa: PLR0911 - one return per token group
    raw: list[tuple[str, str]], words: list[str], i: int, lex: Lexicon
) -> tuple[Tok, int]:
    group, text = raw[i]
    if group == "num":
        return _number(raw, words, i, lex)
    if group == "word":
        known = lex.words.get((text, words[i]))  # only plain words are remembered (`_word`)
        if known is not None:
            return known, i + 1
        return _word_or_number_words(text, words, i, lex)
    if group == "slash":
        return _pair_word(text, text[:3] + text[4:], strict=True), i + 1
    if group == "spaced":
        value = Decimal(text.replace(" ", ""))
        return Tok(Kind.AMOUNT, text, Amount(value, value >= 1000, None)), i + 1
    if group in ("dm", "md"):
        return _day_month(text), i + 1
    return _simple(group, text), i + 1


def _simple(group: str, text: str) -> Tok:  # noqa: PLR0911 - one return per token kind
    if group == "date":
        try:
            return Tok(Kind.DATE, text, dt.date.fromisoformat(_padded(text)))
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
    if group == "sign":
        return Tok(Kind.SIGN, text, t.SIGNS[text])
    if text == "@":
        return Tok(Kind.LIMIT_WORD, text)
    if text == "?":
        return Tok(Kind.QMARK, text)
    return Tok(Kind.JOINER, text)


def _padded(text: str) -> str:
    year, month, day = text.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _day_month(text: str) -> Tok:
    numbers = [int(n) for n, _ in _DATE_PARTS.findall(text) if n]
    month = next(MONTHS[m.lower()] for _, m in _DATE_PARTS.findall(text) if m)
    day, year = numbers[0], numbers[1] if len(numbers) > 1 else None
    if not 1 <= day <= 31:
        return Tok(Kind.BAD_NUMBER, text, f"'{text}' is not a date.")
    return Tok(Kind.DATE, text, DayMonth(day, month, year))


def _number(raw: list[tuple[str, str]], words: list[str], i: int, lex: Lexicon) -> tuple[Tok, int]:
    text = raw[i][1]
    if text.lower() in lex.lps:
        return Tok(Kind.LP, text, lex.lps[text.lower()]), i + 1
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
    if not suffix and i + 1 < len(raw):
        after = words[i + 1]
        written = f"{text} {raw[i + 1][1]}"
        if after in _AMOUNT_UNITS:
            amount = Amount(value * _AMOUNT_UNITS[after], True, None, negative)
            return Tok(Kind.AMOUNT, written, amount), i + 2
        if after in _TENOR_UNITS:
            return _tenor(written, value, _TENOR_UNITS[after], negative), i + 2
    return _suffixed(text, digits, value, suffix, negative), i + 1


def _suffixed(text: str, digits: str, value: Decimal, suffix: str, negative: bool) -> Tok:
    whole = int(value) if digits.isdigit() else None
    if not suffix:
        plain = "." in digits or ("," in digits and len(digits.rsplit(",", 1)[1]) != 3)
        return Tok(Kind.AMOUNT, text, Amount(value, False, None, negative, plain))
    if suffix in t.TENOR_UNITS:
        return _tenor(text, value, t.TENOR_UNITS[suffix], negative)
    if suffix in t.UNITS:
        tenor = None
        if suffix == "m" and whole is not None and whole in t.TENOR_RANGES["m"]:
            tenor = f"{whole}M"
        return Tok(Kind.AMOUNT, text, Amount(value * t.UNITS[suffix], True, tenor, negative))
    return Tok(Kind.BAD_NUMBER, text, f"I can't read '{text}'. {_HOW_TO_WRITE}")


def _tenor(text: str, value: Decimal, unit: str, negative: bool) -> Tok:
    whole = int(value) if value == value.to_integral_value() else None
    if whole is not None and whole in t.TENOR_RANGES[unit] and not negative:
        return Tok(Kind.TENOR, text, f"{whole}{unit.upper()}")
    return Tok(Kind.BAD_NUMBER, text, bad_tenor(text))


def bad_tenor(text: str) -> str:
    return (
        f"I don't know the tenor '{text.upper()}'. Use SPOT, TOD, TOM, 1W-3W, 1M-12M, 18M, 1Y, "
        "2Y, IMM1-IMM4 or a date like 15dec or 2026-12-15."
    )


_NUMBERISH = frozenset({*t.NUMBER_WORDS, *t.SCALE_WORDS, "half", "a", "an"})


def _word_or_number_words(text: str, words: list[str], i: int, lex: Lexicon) -> tuple[Tok, int]:
    word = words[i]
    if chinese.is_numeral(text):
        value, has_unit = chinese.read_numeral(text)
        return _counted(text, value, has_unit, words, i + 1)
    if word in t.NUMBER_WORDS or word in t.SCALE_WORDS or word in ("half", "a", "an"):
        read = read_number_words(words, i)
        if read is not None:
            value, end = read
            written = " ".join(words[i:end])
            if end < len(words) and words[end] in t.UNITS and words[end] not in t.SCALE_WORDS:
                value *= t.UNITS[words[end]]
                written = " ".join(words[i : end + 1])
                return Tok(Kind.AMOUNT, written, Amount(value, True, None)), end + 1
            return _counted(written, value, value >= 1000, words, end)
    return _word(text, word, lex), i + 1


def _counted(
    text: str, value: Decimal, has_unit: bool, words: list[str], end: int
) -> tuple[Tok, int]:
    """A number written in words: an amount, a tenor before a tenor unit (`three months`,
    `三个月`), or an amount before an amount unit (`三百 万`)."""
    if end < len(words):
        after = words[end]
        if after in _TENOR_UNITS:
            return _tenor(f"{text} {after}", value, _TENOR_UNITS[after], False), end + 1
        if after in _AMOUNT_UNITS:
            amount = Amount(value * _AMOUNT_UNITS[after], True, None)
            return Tok(Kind.AMOUNT, f"{text} {after}", amount), end + 1
    return Tok(Kind.AMOUNT, text, Amount(value, has_unit, None)), end


def _word(text: str, word: str, lex: Lexicon) -> Tok:
    known = lex.words.get((text, word))
    if known is not None:
        return known
    tok = _lookup(text, word, lex)
    if word != text.lower() and not tok.norm:
        tok = Tok(tok.kind, tok.text, tok.value, word)
    if word not in _NUMBERISH and not chinese.is_numeral(text):  # a plain word: remembered
        if len(lex.words) >= _KNOWN_WORDS:
            lex.words.clear()
        lex.words[text, word] = tok
    return tok


def _lookup(text: str, word: str, lex: Lexicon) -> Tok:  # noqa: PLR0911 - a lookup table in code form
    norm = word if word != text.lower() else ""
    if word in _WORD_KINDS:
        kind, value = _WORD_KINDS[word]
        return Tok(kind, text, value, norm)
    if word in lex.lps:
        return Tok(Kind.LP, text, lex.lps[word], norm)
    if word in t.PAIR_NICKNAMES:
        return Tok(Kind.PAIR, text, t.PAIR_NICKNAMES[word], norm)
    if word in t.CURRENCY_WORDS:
        return Tok(Kind.CUR, text, t.CURRENCY_WORDS[word], norm)
    size = len(word)
    if size == 3:
        code = word.upper()
        if code in t.CURRENCIES and (code not in t.WORDLIKE_CODES or text.isupper() or norm):
            return Tok(Kind.CUR, text, code, norm)
    elif size == 6 and word.isascii() and word.isalpha():
        return _pair_word(text, word, strict=False)
    elif size == 12 and ISIN_SHAPE.fullmatch(word):
        code = word.upper()
        return Tok(Kind.ISIN if is_valid_isin(code) else Kind.BAD_ISIN, text, code)
    if any(char.isdigit() for char in word):
        return Tok(Kind.BAD_NUMBER, text, f"I can't read '{text}'. {_HOW_TO_WRITE}")
    return Tok(Kind.WORD, text, None, norm)


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
    """Two currencies make one pair: `eur vs usd`, `euros against dollars`, `eur usd`, `欧元兑美元`,
    and `eur vs 1m usd` (the amount then in the second currency)."""
    if len(toks) < 2 or Kind.CUR not in [tok.kind for tok in toks]:
        return toks
    out: list[Tok] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind is Kind.CUR:
            joined = _pair_at(toks, i)
            if joined is not None:
                made, used = joined
                out.extend(made)
                i += used
                continue
        out.append(tok)
        i += 1
    return out


def _pair_at(toks: list[Tok], i: int) -> tuple[list[Tok], int] | None:
    first = toks[i]
    kinds = [tok.kind for tok in toks[i + 1 : i + 4]]
    if kinds[:1] == [Kind.CUR]:
        return [_pair_of(first, toks[i + 1], f"{first.text} {toks[i + 1].text}")], 2
    if kinds[:2] == [Kind.JOINER, Kind.CUR]:
        text = f"{first.text} {toks[i + 1].text} {toks[i + 2].text}"
        return [_pair_of(first, toks[i + 2], text)], 3
    if kinds[:3] == [Kind.JOINER, Kind.AMOUNT, Kind.CUR]:
        pair = _pair_of(first, toks[i + 3], f"{first.text} {toks[i + 1].text}")
        return [pair, toks[i + 2], toks[i + 3]], 4
    return None


def _pair_of(first: Tok, second: Tok, text: str) -> Tok:
    if first.value == second.value:
        return Tok(Kind.BAD_PAIR, text, f"{first.value} against itself is not a pair.")
    return Tok(Kind.PAIR, text, (first.value, second.value))


def _word_table() -> dict[str, tuple[Kind, object]]:
    table: dict[str, tuple[Kind, object]] = {}
    groups: list[tuple[Kind, object, frozenset[str]]] = [
        (Kind.FIELD, None, frozenset(t.FIELD_WORDS)),
        (Kind.QUOTE_FILLER, None, t.QUOTE_FILLERS),
        (Kind.FILLER, None, t.FILLERS),
        (Kind.POLITE, None, t.POLITENESS),
        (Kind.PARTY, None, t.PARTY_WORDS),
        (Kind.VIA, None, t.VIA_WORDS),
        (Kind.JOINER, None, t.JOINERS),
        (Kind.RELATIVE, None, t.RELATIVE_WORDS),
        (Kind.CORRECTION, None, t.CORRECTIONS),
        (Kind.HEDGE, None, t.HEDGES),
        (Kind.QUESTION, None, t.QUESTIONS),
        (Kind.CONDITION, None, t.CONDITIONS),
        (Kind.UNSUPPORTED, None, t.UNSUPPORTED),
        (Kind.NEGATION, None, t.NEGATIONS),
        (Kind.AMEND, None, t.AMEND_WORDS),
        (Kind.LIMIT_WORD, None, t.LIMIT_WORDS),
        (Kind.STOP_WORD, None, t.STOP_WORDS),
        (Kind.INFO_WORD, None, t.INFO_WORDS),
        (Kind.QUOTE_WORD, None, t.QUOTE_WORDS),
        (Kind.MARKET_WORD, None, frozenset({"atmarket"})),
        (Kind.SIDE, "sell", t.SELL_WORDS),
        (Kind.SIDE, "buy", t.BUY_WORDS),
    ]
    for kind, value, words in groups:
        for word in words:
            table[word] = (kind, value)
    tables: list[tuple[Kind, dict[str, object]]] = [
        (Kind.SIDE, dict(t.SWAP_SIDE_WORDS)),
        (Kind.TIF, dict(t.TIME_IN_FORCE)),
        (Kind.PRODUCT, dict(t.PRODUCT_WORDS)),
        (Kind.SWAP_TENOR, dict(t.SWAP_TENORS)),
        (Kind.SIGN, dict(t.SIGNS)),
        (Kind.TENOR, {**t.TENOR_WORDS, **t.IMM_TENORS, **chinese.TENORS}),
    ]
    for kind, mapping in tables:
        for word, value in mapping.items():
            table[word] = (kind, value)
    return table


_WORD_KINDS = _word_table()


def word_table() -> frozenset[str]:
    """Every single word with a meaning of its own (for suggestions)."""
    return frozenset(_WORD_KINDS)
