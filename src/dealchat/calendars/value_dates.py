"""FX value dates from a tenor: spot, forwards, swap legs and an NDF's fixing date.

Pure (the trade date is passed in). A good business day for a pair is a weekday that is a holiday
in neither currency's settlement calendar nor in USD's: TARGET for EUR, the Federal Reserve for
USD, otherwise the currency's country calendar from the `holidays` package. Spot is T+2 (T+1 for
USD/CAD, USD/TRY, USD/RUB, USD/PHP); months run from spot, modified following, end to end; an NDF
fixes two business days before its value date (one for PHP) in its non-deliverable currency.
"""

from __future__ import annotations

import calendar
import datetime as dt
from functools import lru_cache

import holidays

from dealchat.nlu.dates import imm_date

_FINANCIAL = {"EUR": "TAR", "USD": "FED"}
_COUNTRY = {
    "GBP": "GB", "JPY": "JP", "CHF": "CH", "CAD": "CA", "AUD": "AU", "NZD": "NZ", "HKD": "HK",
    "SGD": "SG", "CNY": "CN", "CNH": "HK", "KRW": "KR", "INR": "IN", "TWD": "TW", "BRL": "BR",
    "CLP": "CL", "COP": "CO", "IDR": "ID", "PHP": "PH", "MYR": "MY", "KZT": "KZ", "PEN": "PE",
    "MXN": "MX", "NOK": "NO", "SEK": "SE", "DKK": "DK", "PLN": "PL", "ZAR": "ZA", "TRY": "TR",
    "CZK": "CZ", "HUF": "HU", "ILS": "IL", "THB": "TH", "RUB": "RU",
}  # fmt: skip
_T_PLUS_ONE = frozenset({"USD/CAD", "USD/TRY", "USD/RUB", "USD/PHP"})
_FIXING_LAG = {"PHP": 1}
_DAYS_IN = {"W": 7}
_MONTHS_IN = {"M": 1, "Y": 12}


@lru_cache(maxsize=256)
def _holidays(currency: str, year: int) -> frozenset[dt.date]:
    if currency in _FINANCIAL:
        found = holidays.financial_holidays(_FINANCIAL[currency], years=year)
    elif currency in _COUNTRY:
        found = holidays.country_holidays(_COUNTRY[currency], years=year)
    else:
        return frozenset()
    return frozenset(found)


def is_business_day(day: dt.date, currencies: tuple[str, ...]) -> bool:
    if day.weekday() >= 5:
        return False
    return not any(day in _holidays(code, day.year) for code in currencies)


def pair_currencies(pair: str) -> tuple[str, ...]:
    base, quote = pair.split("/")
    return tuple(dict.fromkeys((base, quote, "USD")))


def add_business_days(day: dt.date, count: int, currencies: tuple[str, ...]) -> dt.date:
    step = 1 if count >= 0 else -1
    left = abs(count)
    while left:
        day += dt.timedelta(days=step)
        if is_business_day(day, currencies):
            left -= 1
    return day


def _following(day: dt.date, currencies: tuple[str, ...]) -> dt.date:
    while not is_business_day(day, currencies):
        day += dt.timedelta(days=1)
    return day


def _modified_following(day: dt.date, currencies: tuple[str, ...]) -> dt.date:
    moved = _following(day, currencies)
    if moved.month == day.month:
        return moved
    while not is_business_day(day, currencies):
        day -= dt.timedelta(days=1)
    return day


def spot_date(pair: str, trade_date: dt.date) -> dt.date:
    currencies = pair_currencies(pair)
    start = _following(trade_date, currencies)
    return add_business_days(start, 1 if pair in _T_PLUS_ONE else 2, currencies)


def value_date(pair: str, tenor: str, trade_date: dt.date) -> dt.date:  # noqa: PLR0911 - per tenor
    """The value date of `tenor` (TOD, TOM, SPOT, 1W, 3M, 2Y, IMM2 or an ISO date)."""
    currencies = pair_currencies(pair)
    if tenor == "TOD":
        return _following(trade_date, currencies)
    if tenor == "TOM":
        return add_business_days(_following(trade_date, currencies), 1, currencies)
    spot = spot_date(pair, trade_date)
    if tenor == "SPOT":
        return spot
    if tenor.startswith("IMM"):
        return _following(imm_date(int(tenor[3:]), trade_date), currencies)
    unit, count = tenor[-1], tenor[:-1]
    if count.isdigit() and unit in _DAYS_IN:
        return _following(spot + dt.timedelta(days=int(count) * _DAYS_IN[unit]), currencies)
    if count.isdigit() and unit in _MONTHS_IN:
        return _months_from(spot, int(count) * _MONTHS_IN[unit], currencies)
    return dt.date.fromisoformat(tenor)


def _months_from(spot: dt.date, months: int, currencies: tuple[str, ...]) -> dt.date:
    year, month = divmod(spot.month - 1 + months, 12)
    year, month = spot.year + year, month + 1
    last = calendar.monthrange(year, month)[1]
    if _is_last_business_day(spot, currencies):  # end to end
        day = dt.date(year, month, last)
        while not is_business_day(day, currencies):
            day -= dt.timedelta(days=1)
        return day
    return _modified_following(dt.date(year, month, min(spot.day, last)), currencies)


def _is_last_business_day(day: dt.date, currencies: tuple[str, ...]) -> bool:
    return add_business_days(day, 1, currencies).month != day.month


def fixing_date(pair: str, value: dt.date) -> dt.date:
    """An NDF fixes in its non-deliverable currency, two business days before value (PHP one)."""
    base, quote = pair.split("/")
    local = quote if base == "USD" else base
    return add_business_days(value, -_FIXING_LAG.get(local, 2), (local,))
