"""Compare a parse result with a case's expectations (NLU.md: listed fields must match)."""

from __future__ import annotations

from decimal import Decimal

from dealchat.nlu import parse

NUMERIC_FIELDS = frozenset({"quantity", "limit_price"})


def mismatches(text: str, expect: dict[str, object]) -> list[str]:
    """Every listed field that differs, as 'field: expected X, got Y'; empty when all match."""
    got = parse(text).to_dict()
    problems = []
    for name, wanted in expect.items():
        actual = got.get(name, "<absent>")
        if not _same(name, wanted, actual):
            problems.append(f"{name}: expected {wanted!r}, got {actual!r} (all: {got})")
    return problems


def _same(name: str, wanted: object, actual: object) -> bool:
    if name in NUMERIC_FIELDS and isinstance(wanted, str) and isinstance(actual, str):
        return Decimal(wanted) == Decimal(actual)
    return wanted == actual
