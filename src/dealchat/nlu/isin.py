"""ISO 6166 ISIN check digit: letters to numbers (A=10 ... Z=35), then Luhn over the digits."""

from __future__ import annotations

import re

ISIN_SHAPE = re.compile(r"[a-z]{2}[a-z0-9]{9}[0-9]", re.IGNORECASE)


def isin_check_digit(body: str) -> int:
    """The check digit for the first eleven characters of an ISIN."""
    digits = "".join(str(int(char, 36)) for char in body.upper())
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            value = value - 9 if value > 9 else value
        total += value
    return (10 - total % 10) % 10


def is_valid_isin(code: str) -> bool:
    """True when `code` is ISIN-shaped and its check digit is right."""
    if not ISIN_SHAPE.fullmatch(code):
        return False
    return isin_check_digit(code[:11]) == int(code[11])
