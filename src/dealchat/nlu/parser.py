"""Chat text to one intent (NLU.md). Precision over recall: whatever is uncertain is `clarify`."""

from __future__ import annotations

import datetime as dt

from dealchat.nlu import tables as t
from dealchat.nlu.amend import amend_intent, is_amend
from dealchat.nlu.commands import command_intent
from dealchat.nlu.lexer import Lexicon, normalise, tokenize
from dealchat.nlu.model import Explained, Intent, IntentKind
from dealchat.nlu.reading import EXAMPLE, Clarify, Reading
from dealchat.nlu.trading import is_trading, rank, trading_intent

__all__ = ["EXAMPLE", "Parser", "rank"]


class Parser:
    """Chat text -> Intent. Pure: no I/O, no clock (`today` is passed in); the same text on the
    same day always gives the same intent."""

    def __init__(
        self,
        counterparties: frozenset[str] = t.DEFAULT_COUNTERPARTIES,
        names: dict[str, str] | None = None,
    ) -> None:
        names = t.DEFAULT_COUNTERPARTY_NAMES if names is None else names
        self._lex = Lexicon.build(counterparties, names)

    def parse(self, text: str, today: dt.date | None = None) -> Intent:  # noqa: PLR0911 - one per kind
        if len(text) > t.MAX_MESSAGE_CHARS:
            return _clarify(
                Clarify(
                    "That message is too long for me to read as one instruction. "
                    f"Please send one short instruction, {EXAMPLE}.",
                    code="too_long",
                )
            )
        toks = tokenize(normalise(text), self._lex)
        if not toks:
            return Intent(IntentKind.UNKNOWN)
        command = command_intent(toks)
        if command is not None:
            return command
        reading = Reading(toks, today)
        try:
            if is_amend(reading):
                return amend_intent(reading)
            if not is_trading(reading):
                return Intent(IntentKind.UNKNOWN)
            return trading_intent(reading)
        except Clarify as clarify:
            return _clarify(clarify, reading)


def _clarify(clarify: Clarify, reading: Reading | None = None) -> Intent:
    """`clarify`; its explanation shows what was read before the doubt and the word at fault."""
    explained: tuple[Explained, ...] = ()
    if reading is not None:
        explained = reading.explained
        if clarify.word is not None:
            explained += (Explained(clarify.word, "not understood", clarify.code),)
    return Intent(
        IntentKind.CLARIFY,
        reason=clarify.reason,
        missing=clarify.missing,
        code=clarify.code,
        word=clarify.word,
        explanation=explained,
    )
