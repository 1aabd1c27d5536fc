"""The nearest word the parser knows, to suggest when a `clarify` names a word it did not know
(`eurusdd` -> `eurusd`, `tomorow` -> `tomorrow`). Pure; used by the chat flow, not by `parse`, so
the parser's speed does not pay for it."""

from __future__ import annotations

import difflib
from functools import lru_cache

from dealchat.nlu import chinese, dates
from dealchat.nlu import tables as t
from dealchat.nlu.lexer import word_table

_SHORTEST = 3


@lru_cache(maxsize=1)
def vocabulary() -> tuple[str, ...]:
    """Every word the parser reads (English and Chinese), pairs of the listed currencies glued
    (`eurusd`), phrases as written, liquidity-provider codes and names."""
    majors = sorted(code.lower() for code in t.MAJORS)
    words: set[str] = set(word_table())
    words |= {a + b for a in majors for b in majors if a != b}
    words |= set(t.PAIR_NICKNAMES) | set(t.CURRENCY_WORDS) | set(t.UNITS) | set(t.TENOR_UNITS)
    words |= set(t.PHRASES) | set(dates.MONTHS) | set(chinese.AS_WORD)
    words |= {code.lower() for code in t.DEFAULT_COUNTERPARTIES}
    words |= set(t.DEFAULT_COUNTERPARTY_NAMES)
    words |= t.HELP_WORDS | t.CONFIRM_WORDS | t.STATUS_WORDS | t.LINK_WORDS | t.UPLOAD_WORDS
    return tuple(sorted(w for w in words if len(w) >= _SHORTEST or not w.isascii()))


def nearest(word: str) -> str | None:
    """The known word closest to `word`, or None when nothing is close enough."""
    written = word.lower()
    cutoff = 0.75 if written.isascii() else 0.5
    found = difflib.get_close_matches(written, vocabulary(), n=1, cutoff=cutoff)
    return found[0] if found and found[0] != written else None
