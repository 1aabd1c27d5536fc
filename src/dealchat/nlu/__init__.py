"""The chat order language (NLU.md): text in, Intent out. Pure: no I/O, no other domains."""

from __future__ import annotations

import datetime as dt

from dealchat.nlu.model import (
    AssetClass,
    Explained,
    Intent,
    IntentKind,
    OrderType,
    Product,
    Side,
    TimeInForce,
)
from dealchat.nlu.parser import Parser, rank

__all__ = [
    "AssetClass",
    "Explained",
    "Intent",
    "IntentKind",
    "OrderType",
    "Parser",
    "Product",
    "Side",
    "TimeInForce",
    "parse",
    "rank",
]

_DEFAULT = Parser()


def parse(text: str, today: dt.date | None = None) -> Intent:
    """Parse one chat message with the default liquidity providers; `today` dates `15dec`."""
    return _DEFAULT.parse(text, today)
