"""Text folding and tokens, pure: what makes matching case-, accent- and script-insensitive.

Folding: Unicode NFKD (full-width letters, ligatures and compatibility ideographs to their plain
forms), combining marks dropped (accents), casefold, and traditional Chinese characters mapped to
simplified ones with OpenCC's character tables (so 保證 and 保证 fold alike). Folding works one
character at a time, so every folded character knows the original character it came from and a
match can be shown on the original text.

Tokens: a run of letters or digits in scripts that separate words with spaces, or one single
character of the scripts that do not (Han, kana): Chinese is matched character by character, and a
Chinese phrase is a sequence of character tokens.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Han (CJK unified, extensions, compatibility) and kana: scripts written without spaces.
_UNSPACED = (
    "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f"
)
_TOKEN = re.compile(rf"[{_UNSPACED}]|[^\W_{_UNSPACED}]+")
_PATTERN_TOKEN = re.compile(rf"[{_UNSPACED}]|(?:[^\W_{_UNSPACED}]|[*?])+")
# OpenCC dictionaries: regional variants to OpenCC's traditional forms, then traditional to
# simplified. The first candidate of each line is taken.
_TABLES = ("TWVariantsRev.txt", "HKVariantsRev.txt", "TSCharacters.txt")


@dataclass(frozen=True, slots=True)
class Token:
    """One folded token and where it sits in the original text (start inclusive, end exclusive)."""

    text: str
    start: int
    end: int


@cache
def _chinese_table() -> dict[str, str]:
    """Single-character traditional -> simplified mapping, chained through the variant tables."""
    folder = resources.files("opencc") / "dictionary"
    steps: list[dict[str, str]] = []
    for name in _TABLES:
        table: dict[str, str] = {}
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            source, _, targets = line.partition("\t")
            target = targets.split(" ")[0] if targets else ""
            if len(source) == 1 and len(target) == 1:
                table[source] = target
        steps.append(table)
    merged: dict[str, str] = {}
    for char in set().union(*steps):
        folded = char
        for table in steps:
            folded = table.get(folded, folded)
        if folded != char:
            merged[char] = folded
    return merged


_FOLDED: dict[str, str] = {}


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def fold_char(char: str) -> str:
    """The folded form of one character (possibly empty, or several characters: 'ß' -> 'ss')."""
    known = _FOLDED.get(char)
    if known is not None:
        return known
    folded = _strip_marks(_strip_marks(char).casefold())
    table = _chinese_table()
    folded = "".join(table.get(part, part) for part in folded)
    _FOLDED[char] = folded
    return folded


def fold(text: str) -> tuple[str, list[int] | None]:
    """The folded text and, for each folded character, the index of its original character
    (None when folding kept every position: plain ASCII)."""
    if text.isascii():
        return text.lower(), None
    parts: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        folded = _FOLDED.get(char)
        if folded is None:
            folded = fold_char(char)
        parts.append(folded)
        origin.extend([index] * len(folded))
    return "".join(parts), origin


def tokens(text: str) -> list[Token]:
    """The folded tokens of `text`, with their spans in the original text."""
    folded, origin = fold(text)
    found = _TOKEN.finditer(folded)
    if origin is None:
        return [Token(match.group(), match.start(), match.end()) for match in found]
    return [
        Token(match.group(), origin[match.start()], origin[match.end() - 1] + 1) for match in found
    ]


def pattern_tokens(text: str) -> list[str]:
    """The folded tokens of a lexicon term: like `tokens`, but `*` and `?` stay inside words."""
    folded, _ = fold(text)
    return _PATTERN_TOKEN.findall(folded)
