"""Is a desk open at an instant? Local business hours, holidays and cut-offs. Pure."""

from __future__ import annotations

import datetime as dt

from dealchat.controls.definitions import Calendar, RuleSet

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_LOOK_AHEAD_DAYS = 31  # a calendar closed for longer than this is reported as not reopening


def closed_because(calendar: Calendar, at: dt.datetime, currency: str | None) -> str | None:
    """None when `calendar` takes an order in `currency` at `at`; else why not, in plain words."""
    if calendar.currencies and currency not in calendar.currencies:
        return None
    local = at.astimezone(calendar.zone)
    day = _session_day(calendar, local)
    where = f"{calendar.name} ({local:%a %d %b %H:%M} {calendar.timezone})"
    if day in calendar.holidays:
        return f"{where} is a holiday"
    if day.weekday() not in calendar.weekdays:
        return f"{where}: the desk does not trade on {_DAYS[day.weekday()]}s"
    if not _within_hours(calendar, local.time()):
        assert calendar.open is not None
        assert calendar.close is not None
        return f"{where} is outside {calendar.open:%H:%M}-{calendar.close:%H:%M}"
    cutoff = calendar.cutoffs.get(currency or "")
    if cutoff is not None and local.time() >= cutoff:
        return f"{where} is past the {currency} cut-off of {cutoff:%H:%M}"
    return None


def next_open(calendar: Calendar, at: dt.datetime, currency: str | None) -> dt.datetime | None:
    """The first instant after `at` at which `calendar` takes an order in `currency`: a day's
    opening time (midnight on a 24h desk), skipping weekends and holidays; None within a month."""
    zone = calendar.zone
    start = at.astimezone(zone).date()
    opening = calendar.open or dt.time()
    for offset in range(_LOOK_AHEAD_DAYS + 1):
        day = start + dt.timedelta(days=offset)
        candidate = dt.datetime.combine(day, opening, tzinfo=zone)
        if candidate > at and closed_because(calendar, candidate, currency) is None:
            return candidate.astimezone(dt.UTC)
    return None


def opening_words(calendar: Calendar, opens: dt.datetime | None) -> str:
    """'opens Mon 30 Nov 07:00 Europe/London' (local to the calendar), or that it does not soon."""
    if opens is None:
        return f"does not reopen within {_LOOK_AHEAD_DAYS} days"
    return f"opens {opens.astimezone(calendar.zone):%a %d %b %H:%M} {calendar.timezone}"


def _session_day(calendar: Calendar, local: dt.datetime) -> dt.date:
    """The trading day a local time belongs to: an overnight session's early hours count to
    the day it opened."""
    overnight = (
        calendar.open is not None and calendar.close is not None and calendar.close <= calendar.open
    )
    if overnight and calendar.close is not None and local.time() < calendar.close:
        return local.date() - dt.timedelta(days=1)
    return local.date()


def _within_hours(calendar: Calendar, now: dt.time) -> bool:
    if calendar.open is None or calendar.close is None:
        return True  # a 24h desk
    if calendar.open < calendar.close:
        return calendar.open <= now < calendar.close
    return now >= calendar.open or now < calendar.close


def desk_calendars(ruleset: RuleSet, desk: str | None) -> list[Calendar]:
    """The calendars a desk trades on: its own entry, else the '*' default, else none."""
    names = ruleset.desks.get(desk or "", ruleset.desks.get("*", ()))
    return [ruleset.calendar(name) for name in names]
