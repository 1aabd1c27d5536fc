"""The text side of a search, pure: a lexicon query compiled once, a cheap necessary-condition
check on the folded text before the full match, and the match's character spans.

The check: a query can only match a text that holds one of its terms, and a term only where
its longest literal piece (a wildcard word cut at its wildcards) occurs in the folded text. So a
text holding none of those pieces is passed over without tokenising it; the full lexicon match
decides every other one, so results are exactly the lexicon's.
"""

from __future__ import annotations

import re

from dealchat.surveillance.lexicon import Lexicon, Policy, Rule, Utterance
from dealchat.surveillance.query import Node, terms_of
from dealchat.surveillance.text import fold

_WILD = re.compile(r"[*?]")


class TextMatcher:
    def __init__(self, query: str, node: Node) -> None:
        rule = Rule(id="search", query=query, node=node, severity="info")
        self.lexicon = Lexicon([Policy(name="search", version=0, rules=(rule,))])
        self.pieces = tuple(sorted({_piece(term.patterns) for term in terms_of(node)}))

    def spans(self, text: str) -> tuple[tuple[int, int], ...] | None:
        """The matched character spans of `text`, or None when the query does not match."""
        folded = text.lower() if text.isascii() else fold(text)[0]
        for piece in self.pieces:
            if piece in folded:
                break
        else:
            return None
        hits = self.lexicon.match(Utterance(text))
        return hits[0].spans if hits else None


def _piece(patterns: tuple[str, ...]) -> str:
    """The longest literal run of any of a term's token patterns."""
    runs = [run for pattern in patterns for run in _WILD.split(pattern) if run]
    return max(runs, key=len)
