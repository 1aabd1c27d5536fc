"""The answer to `clarify`: the parser's reason, which names the word it did not understand, and
the nearest word it knows, when one is close."""

from __future__ import annotations

from dealchat.conversations import replies
from dealchat.nlu import Intent
from dealchat.nlu.suggest import nearest

SUGGEST = " Did you mean '{word}'?"


def suggestion(intent: Intent) -> str | None:
    if intent.code != "unknown_word" or not intent.word:
        return None
    return nearest(intent.word)


def text(intent: Intent) -> str:
    reason = intent.reason or replies.UNKNOWN
    near = suggestion(intent)
    return reason if near is None else reason + SUGGEST.format(word=near)
