"""Compare a parse result with a case's expectations (NLU.md: listed fields must match)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealchat.nlu import parse

NUMERIC_FIELDS = frozenset({"quantity", "limit_price", "stop_price"})


def mismatches(text: str, expect: dict[str, object], today: dt.date | None = None) -> list[str]:
    """Every listed field that differs, as 'field: expected X, got Y'; empty when all match."""
    got = parse(text, today).to_dict()
    problems = []
    for name, wanted in expect.items():
        actual = got.get(name, "<absent>")
        if not same(name, wanted, actual):
            problems.append(f"{name}: expected {wanted!r}, got {actual!r} (all: {got})")
    return problems


def same(name: str, wanted: object, actual: object) -> bool:
    """Numbers compare as numbers, also inside an amend's `changes`."""
    if name in NUMERIC_FIELDS and isinstance(wanted, str) and isinstance(actual, str):
        return Decimal(wanted) == Decimal(actual)
    if isinstance(wanted, dict) and isinstance(actual, dict):
        return wanted.keys() == actual.keys() and all(
            same(key, wanted[key], actual[key]) for key in wanted
        )
    return wanted == actual
