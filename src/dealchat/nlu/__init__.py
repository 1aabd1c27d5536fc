"""The chat order language (NLU.md): text in, Intent out. Pure: no I/O, no other domains."""

from __future__ import annotations

from dealchat.nlu.model import (
    AssetClass,
    Explained,
    Intent,
    IntentKind,
    OrderType,
    Side,
)
from dealchat.nlu.parser import Parser, rank

__all__ = [
    "AssetClass",
    "Explained",
    "Intent",
    "IntentKind",
    "OrderType",
    "Parser",
    "Side",
    "parse",
    "rank",
]

_DEFAULT = Parser()


def parse(text: str) -> Intent:
    """Parse one chat message with the default liquidity-provider codes."""
    return _DEFAULT.parse(text)
