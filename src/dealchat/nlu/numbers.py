"""Numbers as chat writes them: separators, units, number words, 32nds. Exact Decimal."""

from __future__ import annotations

import re
from decimal import Decimal, localcontext

from dealchat.nlu.tables import NUMBER_WORDS, SCALE_WORDS

_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_THIRTY_SECONDS = re.compile(r"(\d{1,3})-(\d{2})([0-7+])?")
_MAX_DIGITS = 30


def read_decimal(text: str, *, strict_comma: bool = False) -> Decimal | None:
    """`1,500,000`, `1'500'000`, `1,5`, `2500.5` -> Decimal; None when the number is unreadable.

    A comma followed by exactly three digits separates thousands, any other comma is a decimal
    comma (NLU.md). With `strict_comma` (prices) a comma before three digits is ambiguous: None.
    """
    if len(text) > _MAX_DIGITS:
        return None
    plain: str | None = text
    if "'" in text:
        plain = _join_groups(text, "'")
    elif text.count(".") >= 2:  # 1.000.000 (NLU.md v2): dots group thousands, a comma is decimal
        whole, _, fraction = text.partition(",")
        plain = _join_groups(whole, ".")
        if plain is not None and fraction:
            plain = plain + "." + fraction if fraction.isdigit() else None
        return Decimal(plain) if plain is not None and _PLAIN.fullmatch(plain) else None
    if plain is not None and "," in plain:
        plain = _resolve_commas(plain, strict=strict_comma)
    if plain is None or not _PLAIN.fullmatch(plain):
        return None
    return Decimal(plain)


def _join_groups(text: str, sep: str) -> str | None:
    head, *groups = text.split(sep)
    if not head or len(head) > 3 or any(len(group.split(".")[0]) != 3 for group in groups):
        return None
    return head + "".join(groups)


def _resolve_commas(text: str, *, strict: bool) -> str | None:
    head, *rest = text.split(",")
    out = head
    decimal_seen = "." in head
    for part in rest:
        digits = part.split(".", 1)[0]
        if len(digits) == 3 and digits.isdigit() and not decimal_seen:
            if strict:
                return None
            out += part
        elif decimal_seen or not part.isdigit():
            return None
        else:
            out += "." + part
            decimal_seen = True
        decimal_seen = decimal_seen or "." in part
    return out


def read_thirty_seconds(text: str) -> Decimal | None:
    """Bond price in 32nds: `99-16` 99.5, `99-16+` 99.515625, `99-162` 99.5078125 (exact)."""
    match = _THIRTY_SECONDS.fullmatch(text)
    if match is None:
        return None
    whole, thirty_seconds, eighth = match.groups()
    ticks = int(thirty_seconds)
    if ticks > 31:
        return None
    eighths = 0 if eighth is None else 4 if eighth == "+" else int(eighth)
    with localcontext() as ctx:
        ctx.prec = 40
        return Decimal(whole) + (Decimal(ticks) + Decimal(eighths) / 8) / 32


def read_number_words(words: list[str], start: int) -> tuple[Decimal, int] | None:
    """`one million`, `two hundred thousand`, `half a million`, `one and a half million`.

    Returns the value and the index after the last word used, or None when no number starts here.
    """
    i = start
    if words[i] == "half":
        return _half(words, i, Decimal(0))
    if words[i] in ("a", "an"):
        if i + 1 < len(words) and words[i + 1] in SCALE_WORDS:
            words = [*words[:i], "one", *words[i + 1 :]]
        else:
            return None
    total = Decimal(0)
    current = Decimal(0)
    used = False
    while i < len(words):
        word = words[i]
        if word in NUMBER_WORDS:
            current += NUMBER_WORDS[word]
        elif word == "hundred":
            current = (current or Decimal(1)) * 100
        elif word in SCALE_WORDS:
            total += (current or Decimal(1)) * SCALE_WORDS[word]
            current = Decimal(0)
        elif word == "and" and used and _next_is(words, i, "a") and _next_is(words, i + 1, "half"):
            return _half(words, i + 2, current)
        elif word == "and" and used and i + 1 < len(words) and words[i + 1] in NUMBER_WORDS:
            pass  # "one hundred and fifty thousand"
        else:
            break
        used = True
        i += 1
    if not used:
        return None
    return total + current, i


def _next_is(words: list[str], i: int, word: str) -> bool:
    return i + 1 < len(words) and words[i + 1] == word


def _half(words: list[str], i: int, whole: Decimal) -> tuple[Decimal, int] | None:
    """At `half`: `half a million` / `... and a half million` -> (whole + 0.5) x scale."""
    j = i + 1
    if j < len(words) and words[j] in ("a", "an"):
        j += 1
    if j < len(words) and words[j] in SCALE_WORDS and words[j] != "hundred":
        return (whole + Decimal("0.5")) * SCALE_WORDS[words[j]], j + 1
    return None
