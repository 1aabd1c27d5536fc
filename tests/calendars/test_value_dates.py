"""FX value dates and NDF fixing dates against the settlement calendars (`holidays` package)."""

from __future__ import annotations

import datetime as dt

import pytest

from dealchat.calendars.value_dates import fixing_date, is_business_day, spot_date, value_date

D = dt.date


@pytest.mark.parametrize(
    ("pair", "tenor", "trade", "expected"),
    [
        ("EUR/USD", "SPOT", D(2026, 12, 7), D(2026, 12, 9)),  # Monday: T+2
        ("EUR/USD", "SPOT", D(2026, 12, 10), D(2026, 12, 14)),  # Thursday: over the weekend
        ("EUR/USD", "SPOT", D(2026, 12, 23), D(2026, 12, 28)),  # Christmas (TARGET and Fed)
        ("USD/CAD", "SPOT", D(2026, 12, 7), D(2026, 12, 8)),  # T+1
        ("USD/JPY", "TOM", D(2026, 12, 7), D(2026, 12, 8)),
        ("USD/JPY", "TOD", D(2026, 12, 5), D(2026, 12, 7)),  # a Saturday trade: Monday
        ("EUR/USD", "1W", D(2026, 12, 7), D(2026, 12, 16)),
        ("EUR/USD", "1M", D(2026, 12, 7), D(2027, 1, 11)),  # the 9th is a Saturday: following
        ("EUR/USD", "IMM2", D(2026, 12, 7), D(2027, 3, 17)),
        ("EUR/USD", "2027-01-15", D(2026, 12, 7), D(2027, 1, 15)),
        ("USD/JPY", "SPOT", D(2027, 1, 8), D(2027, 1, 13)),  # Coming of Age Day (JP) on the 11th
    ],
)
def test_value_dates(pair: str, tenor: str, trade: dt.date, expected: dt.date) -> None:
    assert value_date(pair, tenor, trade) == expected


def test_month_end_to_month_end_and_modified_following() -> None:
    spot = spot_date("EUR/USD", D(2027, 1, 27))
    assert spot == D(2027, 1, 29)  # the last business day of January
    assert value_date("EUR/USD", "1M", D(2027, 1, 27)) == D(2027, 2, 26)  # end to end
    assert value_date("EUR/USD", "1M", D(2027, 4, 26)) == D(2027, 5, 28)  # 28 May: modified


def test_ndf_fixing_is_two_seoul_business_days_before_value() -> None:
    value = value_date("USD/KRW", "3M", D(2026, 12, 7))
    assert value == D(2027, 3, 9)
    assert fixing_date("USD/KRW", value) == D(2027, 3, 5)
    # Seollal 2027 (6-9 Feb in Korea): a fixing that would fall on it moves earlier
    assert fixing_date("USD/KRW", D(2027, 2, 10)) == D(2027, 2, 4)
    assert not is_business_day(D(2027, 2, 8), ("KRW",))
    assert fixing_date("USD/PHP", D(2027, 3, 9)) == D(2027, 3, 8)  # PHP fixes one day before
