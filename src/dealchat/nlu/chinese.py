"""Chinese, simplified and traditional (NLU.md v2): words, numerals and segmentation.

Chinese is written without spaces, so a message with Chinese characters is first cut into words by
longest match against this vocabulary (numerals as one run, unknown characters as one run, so the
closed-world rule can name them). Each Chinese word reads as an English word of `tables`
(`买入` as `buy`), so the parser has one grammar; the token keeps the Chinese text for `--explain`.
"""

from __future__ import annotations

import re
from decimal import Decimal

# Chinese word -> the English word of tables.py it means. Both scripts are listed.
AS_WORD: dict[str, str] = {}


def _add(english: str, *words: str) -> None:
    for word in words:
        AS_WORD[word] = english


_add("buy", "买", "买入", "買", "買入", "购买", "購買", "买进", "買進")
_add("sell", "卖", "卖出", "賣", "賣出", "沽", "沽出")
_add("quote", "报价", "報價", "询价", "詢價", "报个价", "報個價")
_add("price", "价格", "價格")
_add("confirm", "确认", "確認", "确定", "確定")
_add("cancel", "取消", "撤单", "撤單", "撤销", "撤銷")
_add("help", "帮助", "幫助")
_add("hello", "你好", "您好")
_add("status", "状态", "狀態", "订单状态", "訂單狀態")
_add("orders", "我的订单", "我的訂單", "订单", "訂單")
_add("everything", "全部", "所有")  # `全部订单`: never the currency ALL
_add("login", "登录", "登錄", "登入")
_add(
    "resetpassword",
    "忘记密码", "忘記密碼", "重置密码", "重置密碼", "重设密码", "重設密碼", "找回密码", "找回密碼",
    "密码重置", "密碼重置", "忘了密码", "忘了密碼",
)  # fmt: skip
_add("eur", "欧元", "歐元")
_add("usd", "美元", "美金")
_add("jpy", "日元", "日圓", "日圆")
_add("gbp", "英镑", "英鎊")
_add("aud", "澳元", "澳币", "澳幣")
_add("hkd", "港币", "港元", "港幣")
_add("cny", "人民币", "人民幣")
_add("cnh", "离岸人民币", "離岸人民幣")
_add("chf", "瑞郎", "瑞士法郎")
_add("cad", "加元", "加币", "加幣")
_add("nzd", "纽元", "紐元", "新西兰元", "新西蘭元")
_add("sgd", "新加坡元", "新元", "坡元")
_add("krw", "韩元", "韓元")
_add("twd", "新台币", "新台幣")
_add("inr", "印度卢比", "印度盧比")
_add("xau", "黄金", "黃金")
_add("xag", "白银", "白銀")
_add("vs", "兑", "兌", "对", "對")
_add("spot", "即期")
_add("today", "今天", "今日", "当日", "當日")
_add("tomorrow", "明天", "明日")
_add("atmarket", "市价", "市價")
_add("limit", "限价", "限價")
_add("at", "在", "以")
_add("stop", "止损", "止損")
_add("swap", "掉期")
_add("ndf", "无本金交割", "無本金交割", "无本金交割远期", "無本金交割遠期")
_add("forward", "远期", "遠期")
_add("day", "当日有效", "當日有效")
_add("gtc", "取消前有效", "撤单前有效", "撤單前有效")
_add("amend", "改", "修改", "更改", "改成", "改为", "改為")
_add("via", "通过", "通過")
_add("dont", "不", "别", "別", "不要", "勿", "没", "沒")
_add("if", "如果", "若", "假如", "要是", "一旦", "等到")
_add("would", "吗", "嗎")
_add("actually", "不对", "不對", "等等", "抱歉", "对不起", "對不起", "我是说", "我是說")
_add("or", "还是", "還是", "或者", "或")
_add("next", "下周", "下週", "下个月", "下個月", "下星期", "月底", "月末", "年底")
_add("please", "请", "請", "麻烦", "麻煩", "帮我", "幫我", "谢谢", "謝謝", "多谢", "多謝")
_add("i", "我", "我们", "我們")
_add("want", "想", "要", "想要")
_add("the", "的", "一下", "了", "吧", "呢", "和", "现在", "現在", "好")

# Amount units and tenor units in Chinese (merged into tables.UNITS and tables.TENOR_UNITS).
UNITS: dict[str, int] = {
    "千": 1_000,
    "万": 10_000,
    "萬": 10_000,
    "十万": 100_000,
    "十萬": 100_000,
    "百万": 1_000_000,
    "百萬": 1_000_000,
    "千万": 10_000_000,
    "千萬": 10_000_000,
    "亿": 100_000_000,
    "億": 100_000_000,
}
TENOR_UNITS: dict[str, str] = {
    "个月": "m",
    "個月": "m",
    "周": "w",
    "週": "w",
    "星期": "w",
    "个星期": "w",
    "個星期": "w",
    "年": "y",
}
# Whole tenors written as one word.
TENORS: dict[str, str] = {
    "一周": "1W",
    "一週": "1W",
    "一个月": "1M",
    "一個月": "1M",
    "三个月": "3M",
    "三個月": "3M",
    "一年": "1Y",
}

_DIGITS = {"零": 0, "\u3007": 0, "一": 1, "二": 2, "两": 2, "兩": 2, "三": 3, "四": 4, "五": 5}
_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_SMALL = {"十": 10, "百": 100, "千": 1_000}
_BIG = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
NUMERAL_CHARS = frozenset(_DIGITS) | frozenset(_SMALL) | frozenset(_BIG)
_STARTS_NUMBER = frozenset(_DIGITS) | {"十"}

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# `12月15日` and `2026年12月15日`: dates, rewritten to the forms the lexer reads.
_DATE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})[日号號]")
_MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split()

_VOCABULARY = frozenset(AS_WORD) | frozenset(UNITS) | frozenset(TENOR_UNITS) | frozenset(TENORS)


def segment(text: str) -> str:
    """Space-separate the Chinese words of `text` (a no-op for text without Chinese)."""
    if CJK.search(text) is None:
        return text
    text = _DATE.sub(_date, text)
    return CJK.sub(lambda m: " " + " ".join(_words(m.group(0))) + " ", text)


def _date(match: re.Match[str]) -> str:
    year, month, day = match.groups()
    if not 1 <= int(month) <= 12:
        return match.group(0)
    if year:
        return f" {year}-{int(month):02d}-{int(day):02d} "
    return f" {int(day)} {_MONTHS[int(month) - 1]} "


def _words(run: str) -> list[str]:
    out: list[str] = []
    unknown = ""
    i = 0
    while i < len(run):
        size = max(_known_at(run, i), _numeral_at(run, i))
        if size == 0:
            unknown += run[i]
            i += 1
            continue
        if unknown:
            out.append(unknown)
            unknown = ""
        out.append(run[i : i + size])
        i += size
    if unknown:
        out.append(unknown)
    return out


def _lengths() -> dict[str, tuple[int, ...]]:
    """For each first character, the lengths of the words that start with it, longest first."""
    found: dict[str, set[int]] = {}
    for word in _VOCABULARY:
        found.setdefault(word[0], set()).add(len(word))
    return {char: tuple(sorted(sizes, reverse=True)) for char, sizes in found.items()}


_LENGTHS = _lengths()


def _known_at(run: str, i: int) -> int:
    for size in _LENGTHS.get(run[i], ()):
        if run[i : i + size] in _VOCABULARY:
            return size
    return 0


def _numeral_at(run: str, i: int) -> int:
    if run[i] not in _STARTS_NUMBER:
        return 0
    j = i
    while j < len(run) and run[j] in NUMERAL_CHARS:
        j += 1
    return j - i


def is_numeral(word: str) -> bool:
    return bool(word) and word[0] in _STARTS_NUMBER and all(c in NUMERAL_CHARS for c in word)


def read_numeral(word: str) -> tuple[Decimal, bool]:
    """`两百万` -> (2000000, True): the value and whether it has a unit (a thousand or more)."""
    total = section = number = 0
    for char in word:
        if char in _DIGITS:
            number = _DIGITS[char]
        elif char in _SMALL:
            section += (number or 1) * _SMALL[char]
            number = 0
        else:
            section += number
            number = 0
            if _BIG[char] == 100_000_000:
                total = (total + section) * _BIG[char]
            else:
                total += section * _BIG[char]
            section = 0
    value = total + section + number
    has_unit = any(char in _BIG or char == "千" for char in word)
    return Decimal(value), has_unit
