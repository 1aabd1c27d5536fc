"""What the tokens of one message say, gathered before deciding; and the `clarify` signal."""

from __future__ import annotations

import datetime as dt
from operator import itemgetter

from dealchat.nlu.lexer import Kind, Tok
from dealchat.nlu.model import Explained

EXAMPLE = "e.g. 'buy 1m eurusd'"
_NONE: list[int] = []
_FIRST = itemgetter(0)
FILLER = "filler"


class Clarify(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside the parser to answer `clarify` with a reason and the missing fields.

    `code` names the kind of reason (stable, for replies in other languages); `word` is the
    client's word at fault, when there is one."""

    def __init__(
        self,
        reason: str,
        missing: tuple[str, ...] = (),
        *,
        code: str = "unclear",
        word: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = missing
        self.code = code
        self.word = word


class Reading:
    """The tokens of one message, which of them became which field, and the day it is.
    (A plain class with slots: one is made per message.)"""

    __slots__ = ("by_kind", "notes", "today", "toks", "used")

    def __init__(self, toks: list[Tok], today: dt.date | None = None) -> None:
        self.toks = toks
        self.today = today
        self.notes: list[tuple[int, Explained]] = []
        self.used: set[int] = set()
        by_kind: dict[Kind, list[int]] = {}
        for index, tok in enumerate(toks):
            found = by_kind.get(tok.kind)
            if found is None:
                by_kind[tok.kind] = [index]
            else:
                found.append(index)
        self.by_kind = by_kind

    def at(self, kind: Kind) -> list[int]:
        return self.by_kind.get(kind, _NONE)

    def has(self, kind: Kind) -> bool:
        return kind in self.by_kind

    def words(self, kind: Kind) -> set[str]:
        return {self.toks[i].word for i in self.at(kind)}

    def kind_at(self, index: int) -> Kind | None:
        return self.toks[index].kind if 0 <= index < len(self.toks) else None

    def note(self, index: int, name: str, value: object) -> None:
        """Token `index` became field `name` with `value` (or says it, like `@` for a limit)."""
        self.used.add(index)
        self.notes.append((index, Explained(self.toks[index].text, name, str(value))))

    def filler(self, index: int) -> None:
        self.note(index, FILLER, "")

    @property
    def explained(self) -> tuple[Explained, ...]:
        """What became which field, in the order the client wrote it."""
        return tuple(part for _, part in sorted(self.notes, key=_FIRST))


def unknown_word(word: str, *, order: bool) -> Clarify:
    where = "in this order" if order else "in this request"
    return Clarify(
        f"I don't know what '{word}' means {where}. Please write it with words I know, {EXAMPLE}.",
        code="unknown_word",
        word=word,
    )
