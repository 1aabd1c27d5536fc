"""Business hours per desk: time zones, daylight saving, holidays, cut-offs, overnight and 24h."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from dealchat.controls.calendars import closed_because, desk_calendars, next_open, opening_words
from dealchat.controls.definitions import Calendar
from tests.controls.rulesets import ruleset

LDN = Calendar(
    name="LDN",
    timezone="Europe/London",
    open="07:00",
    close="18:00",
    holidays=frozenset({dt.date(2026, 12, 25)}),
    cutoffs={"JPY": "09:00"},
)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def test_local_hours_follow_daylight_saving() -> None:
    # 06:30 UTC is 07:30 in London in summer (open), 06:30 in winter (closed).
    assert closed_because(LDN, utc(2026, 7, 7, 6, 30), "EUR") is None
    assert "outside 07:00-18:00" in str(closed_because(LDN, utc(2026, 11, 24, 6, 30), "EUR"))


def test_weekends_holidays_and_currency_cut_offs() -> None:
    assert "does not trade on Saturdays" in str(closed_because(LDN, utc(2026, 11, 28, 12), "EUR"))
    assert "is a holiday" in str(closed_because(LDN, utc(2026, 12, 25, 12), "EUR"))
    assert "past the JPY cut-off of 09:00" in str(
        closed_because(LDN, utc(2026, 11, 24, 9, 30), "JPY")
    )
    assert closed_because(LDN, utc(2026, 11, 24, 9, 30), "EUR") is None


def test_overnight_sessions_and_24h_desks_and_currency_calendars() -> None:
    sydney = Calendar(name="SYD-NIGHT", timezone="Australia/Sydney", open="22:00", close="06:00")
    # Tuesday 23:00 Sydney and Wednesday 05:00 Sydney belong to Tuesday's session.
    assert closed_because(sydney, utc(2026, 11, 24, 12), None) is None  # 23:00 AEDT
    assert closed_because(sydney, utc(2026, 11, 24, 18), None) is None  # 05:00 Wed
    assert "outside 22:00-06:00" in str(closed_because(sydney, utc(2026, 11, 24, 20), None))
    always = Calendar(name="ALWAYS", timezone="UTC", weekdays=frozenset(range(7)))
    assert closed_because(always, utc(2026, 11, 29, 3), "EUR") is None
    tokyo = Calendar(
        name="TKY",
        timezone="Asia/Tokyo",
        weekdays=frozenset(range(7)),
        currencies=frozenset({"JPY"}),
        holidays=frozenset({dt.date(2026, 11, 23)}),
    )
    assert closed_because(tokyo, utc(2026, 11, 23, 1), "EUR") is None
    assert "is a holiday" in str(closed_because(tokyo, utc(2026, 11, 23, 1), "JPY"))


def test_a_closed_calendar_says_when_it_next_opens() -> None:
    saturday = utc(2026, 11, 28, 12)
    assert next_open(LDN, saturday, "EUR") == utc(2026, 11, 30, 7)
    assert opening_words(LDN, next_open(LDN, saturday, "EUR")) == (
        "opens Mon 30 Nov 07:00 Europe/London"
    )
    assert next_open(LDN, utc(2026, 11, 24, 6, 30), "EUR") == utc(2026, 11, 24, 7)
    assert next_open(LDN, utc(2026, 11, 24, 9, 30), "JPY") == utc(2026, 11, 25, 7)  # cut-off
    assert next_open(LDN, utc(2026, 12, 24, 18, 30), "EUR") == utc(2026, 12, 28, 7)  # Christmas
    summer = next_open(LDN, utc(2026, 7, 4, 12), "EUR")  # a Saturday in British Summer Time
    assert summer == utc(2026, 7, 6, 6)
    sydney = Calendar(name="SYD-NIGHT", timezone="Australia/Sydney", open="22:00", close="06:00")
    assert next_open(sydney, utc(2026, 11, 24, 20), None) == utc(2026, 11, 25, 11)  # 22:00 AEDT
    shut = Calendar(name="SHUT", timezone="UTC", cutoffs={"JPY": "00:00"})  # never for JPY
    assert next_open(shut, saturday, "JPY") is None
    assert opening_words(shut, None) == "does not reopen within 31 days"


def test_each_desk_has_its_calendars_and_unknown_desks_use_the_default() -> None:
    rules = ruleset({"id": "h", "kind": "hours"})
    assert [c.name for c in desk_calendars(rules, "FX-LDN")] == ["LDN"]
    assert desk_calendars(rules, "NOWHERE") == []
    with_default = ruleset(desks={"*": ["ALWAYS"]})
    assert [c.name for c in desk_calendars(with_default, None)] == ["ALWAYS"]


@pytest.mark.parametrize(
    "bad",
    [
        {"timezone": "Mars/Olympus"},
        {"open": 1080, "close": "19:00"},  # what YAML makes of an unquoted 18:00
        {"open": "07:00"},
        {"weekdays": [7]},
    ],
)
def test_bad_calendars_are_refused_on_load(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Calendar.model_validate({"name": "X", "timezone": "UTC", **bad})
