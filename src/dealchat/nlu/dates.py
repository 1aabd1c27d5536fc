"""Dates in chat: broken dates (`15dec`, `dec 15`) and IMM dates, from a `today` the caller passes
in (NLU.md v2: the parser reads no clock)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

MONTHS: dict[str, int] = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
ABBREVIATIONS = tuple("jan feb mar apr may jun jul aug sep oct nov dec".split())
# One alternation with shared prefixes, so the lexer's regex stays fast.
MONTH_PATTERN = (
    "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAYS = {"SPOT": 2, "TOD": 0, "TOM": 1}
_UNIT_DAYS = {"W": 7, "M": 30, "Y": 365}


@dataclass(frozen=True, slots=True)
class DayMonth:
    """A date as written: day and month, the year only when the client gave it."""

    day: int
    month: int
    year: int | None

    def text(self) -> str:
        year = f" {self.year}" if self.year else ""
        return f"{self.day}{ABBREVIATIONS[self.month - 1]}{year}"


def resolve(written: DayMonth, today: dt.date | None) -> dt.date | str:
    """The date meant, or the reason it cannot be known. Without a year: the next such date from
    `today` (today included)."""
    if written.year is not None:
        year = written.year + 2000 if written.year < 100 else written.year
        try:
            return dt.date(year, written.month, written.day)
        except ValueError:
            return f"'{written.text()}' is not a date."
    if today is None:
        return f"Which year is '{written.text()}'? Please write the date in full, e.g. 2026-12-15."
    for year in (today.year, today.year + 1, today.year + 4):
        try:
            found = dt.date(year, written.month, written.day)
        except ValueError:
            continue
        if found >= today:
            return found
    return f"'{written.text()}' is not a date."


def third_wednesday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(2 - first.weekday()) % 7 + 14)


def imm_date(number: int, today: dt.date) -> dt.date:
    """IMMn: the n-th third Wednesday of March, June, September or December after `today`."""
    found: list[dt.date] = []
    year, month = today.year, today.month
    while len(found) < number:
        if month % 3 == 0:
            day = third_wednesday(year, month)
            if day > today:
                found.append(day)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return found[-1]


def rough_days(tenor: str, today: dt.date | None) -> int | None:
    """Roughly how far a tenor is, to check that a swap's far leg is after its near leg; None when
    it cannot be told without a calendar."""
    if tenor in _DAYS:
        return _DAYS[tenor]
    if tenor.startswith("IMM"):
        return None if today is None else (imm_date(int(tenor[3:]), today) - today).days
    if tenor[-1] in _UNIT_DAYS and tenor[:-1].isdigit():
        return 2 + int(tenor[:-1]) * _UNIT_DAYS[tenor[-1]]
    if today is None:
        return None
    try:
        return (dt.date.fromisoformat(tenor) - today).days
    except ValueError:
        return None
