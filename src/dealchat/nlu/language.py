"""Which language a chat message is in, as far as the bank answers it: Chinese in the simplified or
the traditional script, or not Chinese (answered in English). Pure."""

from __future__ import annotations

from functools import lru_cache

from opencc import OpenCC

from dealchat.nlu.chinese import CJK

HANS, HANT = "zh-Hans", "zh-Hant"


def language_of(text: str) -> str | None:
    """`zh-Hant` when the message has traditional characters, `zh-Hans` for other Chinese, else
    None (answer in English)."""
    if CJK.search(text) is None:
        return None
    return HANT if to_simplified().convert(text) != text else HANS


def in_script(simplified: str, language: str | None) -> str:
    """A Chinese text written in simplified characters, in the script of `language`."""
    return to_traditional().convert(simplified) if language == HANT else simplified


@lru_cache(maxsize=1)
def to_simplified() -> OpenCC:
    return OpenCC("t2s")


@lru_cache(maxsize=1)
def to_traditional() -> OpenCC:
    return OpenCC("s2t")
