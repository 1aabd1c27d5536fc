"""The pre-trade decision, pure: one order's facts + rules -> allow, hold or reject, explained.

No database, no I/O, no clock: the caller passes the order's facts (its instant included), the
stated rates, how much of each limit is already used, and the client's own history. Every rule
that fires is returned with its values, its score and a sentence saying why.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from zoneinfo import ZoneInfo

from dealchat.controls.calendars import closed_because, desk_calendars, next_open, opening_words
from dealchat.controls.definitions import (
    Action,
    FirstUseRule,
    HoursRule,
    LimitRule,
    RateRule,
    RateTable,
    Rule,
    RuleSet,
    SizeOutlierRule,
    UnusualTimeRule,
)

_MAD_SCALE = Decimal("0.6745")  # makes the MAD comparable to a standard deviation
_CENT = Decimal("0.01")
_SCOPE_FIELDS = {
    "region": "region",
    "desk": "desk",
    "counterparty": "counterparty",
    "client": "client_id",
}
_SEVERITY = {Action.ALLOW: 0, Action.HOLD: 1, Action.REJECT: 2}


@dataclass(frozen=True)
class OrderFacts:
    order_id: str
    client_id: str
    desk: str | None
    region: str | None
    counterparty: str | None
    currency: str
    amount: Decimal
    instrument: str
    tenor: str | None
    at: dt.datetime


@dataclass(frozen=True)
class History:
    """The client's own past orders, summarised (amounts in the base currency)."""

    count: int = 0
    median: Decimal | None = None
    mad: Decimal | None = None
    quantiles: tuple[Decimal, ...] = ()  # sorted sample of past amounts
    currencies: frozenset[str] = frozenset()
    counterparties: frozenset[str] = frozenset()
    tenors: frozenset[str] = frozenset()
    hours: tuple[int, ...] = (0,) * 24  # orders per UTC hour of day


@dataclass(frozen=True)
class LimitCheck:
    """What one limit rule needs to know: the amount already used under `key` since `since`
    (None: this order alone)."""

    rule_id: str
    key: str
    since: dt.datetime | None
    max_amount: Decimal


@dataclass(frozen=True)
class Fired:
    rule_id: str
    kind: str
    action: Action
    score: int
    values: dict[str, str]
    because: str
    title: str = ""

    def as_record(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "title": self.title,
            "kind": self.kind,
            "action": self.action.value,
            "score": self.score,
            "values": self.values,
            "because": self.because,
        }


@dataclass(frozen=True)
class Decision:
    action: Action
    score: int
    ruleset: str
    version: int
    fired: tuple[Fired, ...] = ()
    checked: int = 0
    base_amount: Decimal | None = None
    notes: tuple[str, ...] = field(default=())

    def explain(self) -> str:
        head = f"{self.action.value.upper()} (score {self.score}, {self.checked} rules checked)"
        lines = [
            head,
            *(
                f"- {f.rule_id} [{f.action.value} +{f.score}]: {f.title}: {f.because}"
                for f in self.fired
            ),
        ]
        return "\n".join(lines)

    def as_record(self) -> dict[str, object]:
        return {
            "decision": self.action.value,
            "score": self.score,
            "ruleset": self.ruleset,
            "version": self.version,
            "checked": self.checked,
            "base_amount": None if self.base_amount is None else str(self.base_amount),
            "fired": [fired.as_record() for fired in self.fired],
        }


def money(value: Decimal, currency: str) -> str:
    return f"{value.quantize(Decimal('0.01')):,f} {currency}"


def to_base(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount in the base currency, rounded up to the cent: rounding never helps a limit."""
    return (amount * rate).quantize(_CENT, rounding=ROUND_CEILING)


def limit_checks(ruleset: RuleSet, facts: OrderFacts) -> list[LimitCheck]:
    """The limits this order falls under, with the window each one sums over."""
    found = []
    for rule in ruleset.rules:
        if isinstance(rule, LimitRule) and rule.enabled:
            key = limit_key(rule, facts)
            if key is not None:
                found.append(
                    LimitCheck(rule.id, key, window_start(rule, facts.at), rule.max_amount)
                )
    return found


def limit_key(rule: LimitRule, facts: OrderFacts) -> str | None:
    """`client:<id>`, `region:EMEA`, `global`...; None when the rule does not cover this order."""
    if rule.scope == "global":
        return "global"
    value: str | None = getattr(facts, _SCOPE_FIELDS[rule.scope])
    if value is None or (rule.match is not None and value != rule.match):
        return None
    return f"{rule.scope}:{value}"


def window_start(rule: LimitRule, at: dt.datetime) -> dt.datetime | None:
    if rule.window == "order":
        return None
    if rule.window == "rolling":
        assert rule.window_seconds is not None
        return at - dt.timedelta(seconds=rule.window_seconds)
    if rule.day_timezone == "UTC":
        return at.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    local = at.astimezone(ZoneInfo(rule.day_timezone))
    midnight = dt.datetime.combine(local.date(), dt.time(), tzinfo=local.tzinfo)
    return midnight.astimezone(dt.UTC)


@dataclass(frozen=True)
class _Context:
    ruleset: RuleSet
    facts: OrderFacts
    rates: RateTable
    usage: Mapping[tuple[str, str], Decimal]
    history: History
    base_amount: Decimal | None
    keys: dict[str, str]  # limit rule id -> scope key, for the limits covering this order
    hour_total: int


def decide(
    ruleset: RuleSet,
    facts: OrderFacts,
    *,
    rates: RateTable,
    usage: Mapping[tuple[str, str], Decimal] | None = None,
    history: History | None = None,
    checks: list[LimitCheck] | None = None,
) -> Decision:
    """Run every enabled rule. Reject beats hold beats allow; scores add up to the thresholds.

    `checks` are `limit_checks(ruleset, facts)` when the caller has them already."""
    rate = rates.find(facts.currency) if rates.base_currency == ruleset.base_currency else None
    base_amount = None if rate is None else to_base(facts.amount, rate.rate)
    history = history or History()
    keys = {c.rule_id: c.key for c in (limit_checks(ruleset, facts) if checks is None else checks)}
    context = _Context(
        ruleset, facts, rates, usage or {}, history, base_amount, keys, sum(history.hours)
    )
    fired: list[Fired] = []
    for rule in ruleset.enabled_rules:
        found = _CHECKS[rule.kind](rule, context)
        if found is not None:
            fired.append(found)
    return _conclude(ruleset, fired, len(ruleset.enabled_rules), base_amount)


def _conclude(
    ruleset: RuleSet, fired: list[Fired], checked: int, base_amount: Decimal | None
) -> Decision:
    score = sum(f.score for f in fired)
    action = Action.ALLOW
    for f in fired:
        if f.action is not Action.SCORE and _SEVERITY[f.action] > _SEVERITY[action]:
            action = f.action
    if score >= ruleset.thresholds.reject:
        action = Action.REJECT
    elif score >= ruleset.thresholds.hold and action is Action.ALLOW:
        action = Action.HOLD
    return Decision(
        action, score, ruleset.name, ruleset.version, tuple(fired), checked, base_amount
    )


def _fire(rule: Rule, values: dict[str, str], because: str) -> Fired:
    return Fired(rule.id, rule.kind, rule.action, rule.score, values, because, rule.name)


def _hours(rule: Rule, c: _Context) -> Fired | None:
    assert isinstance(rule, HoursRule)
    calendars = desk_calendars(c.ruleset, c.facts.desk)
    for calendar in calendars:
        reason = closed_because(calendar, c.facts.at, c.facts.currency)
        if reason is not None:
            opens = next_open(calendar, c.facts.at, c.facts.currency)
            values = {
                "calendar": calendar.name,
                "at": c.facts.at.isoformat(),
                "desk": str(c.facts.desk),
                "opens_at": "" if opens is None else opens.isoformat(),
                "opens": opening_words(calendar, opens),
            }
            return _fire(rule, values, f"{reason}; {values['opens']}")
    return None


def _rate(rule: Rule, c: _Context) -> Fired | None:
    assert isinstance(rule, RateRule)
    base = c.ruleset.base_currency
    if c.rates.base_currency != base:
        return _fire(
            rule, {"rates_base": c.rates.base_currency}, f"the rates are not against {base}"
        )
    rate = c.rates.find(c.facts.currency)
    if rate is None:
        return _fire(rule, {"currency": c.facts.currency}, f"no stated rate for {c.facts.currency}")
    age = c.facts.at - rate.as_of
    if age > dt.timedelta(hours=rule.max_age_hours):
        values = {"currency": rate.currency, "as_of": rate.as_of.isoformat(), "source": rate.source}
        hours = int(age.total_seconds() // 3600)
        return _fire(rule, values, f"the {rate.currency} rate from {rate.source} is {hours}h old")
    return None


def _limit(rule: Rule, c: _Context) -> Fired | None:
    assert isinstance(rule, LimitRule)
    key = c.keys.get(rule.id)
    if key is None:
        return None
    base = c.ruleset.base_currency
    if c.base_amount is None:
        return _fire(
            rule, {"currency": c.facts.currency}, f"cannot convert {c.facts.currency} to {base}"
        )
    used = Decimal(0) if rule.window == "order" else c.usage.get((rule.id, key), Decimal(0))
    total = used + c.base_amount
    if total <= rule.max_amount:
        return None
    values = {
        "key": key,
        "window": rule.window if rule.window != "rolling" else f"{rule.window_seconds}s",
        "used": str(used),
        "order": str(c.base_amount),
        "limit": str(rule.max_amount),
        "currency": base,
    }
    if rule.window == "order":
        limit = money(rule.max_amount, base)
        why = f"{money(c.base_amount, base)} is above the single-order limit of {limit}"
    else:
        why = (
            f"{money(used, base)} already used + {money(c.base_amount, base)} "
            f"= {money(total, base)}, "
            f"above the {values['window']} limit of {money(rule.max_amount, base)} for {key}"
        )
    return _fire(rule, values, why)


def _size_outlier(rule: Rule, c: _Context) -> Fired | None:
    assert isinstance(rule, SizeOutlierRule)
    h, amount = c.history, c.base_amount
    if amount is None or h.count < rule.min_history:
        return None
    base = c.ruleset.base_currency
    if rule.method == "mad":
        if h.median is None or h.mad is None or h.mad == 0:
            return None
        z = _MAD_SCALE * (amount - h.median) / h.mad
        if z <= rule.threshold:
            return None
        values = {"z": f"{z:.2f}", "median": str(h.median), "mad": str(h.mad), "order": str(amount)}
        return _fire(
            rule,
            values,
            f"{money(amount, base)} is {z:.1f} robust deviations above "
            f"the client's median of {money(h.median, base)}",
        )
    rank = _percentile_rank(h.quantiles, amount)
    if rank <= rule.threshold:
        return None
    values = {"percentile": f"{rank:.1f}", "order": str(amount)}
    return _fire(
        rule, values, f"{money(amount, base)} is larger than {rank:.1f}% of the client's orders"
    )


def _percentile_rank(sample: tuple[Decimal, ...], value: Decimal) -> Decimal:
    if not sample:
        return Decimal(0)
    return Decimal(100) * bisect_left(sample, value) / len(sample)


def _first_use(rule: Rule, c: _Context) -> Fired | None:
    assert isinstance(rule, FirstUseRule)
    if c.history.count < rule.min_history:
        return None
    value, seen = {
        "currency": (c.facts.currency, c.history.currencies),
        "counterparty": (c.facts.counterparty, c.history.counterparties),
        "tenor": (c.facts.tenor or "SPOT", c.history.tenors),
    }[rule.field]
    if value is None or value in seen:
        return None
    values = {"field": rule.field, "value": value, "seen": ",".join(sorted(seen))}
    return _fire(rule, values, f"first order with {rule.field} {value} for this client")


def _unusual_time(rule: Rule, c: _Context) -> Fired | None:
    assert isinstance(rule, UnusualTimeRule)
    total = c.hour_total
    if total < rule.min_history:
        return None
    hour = c.facts.at.astimezone(dt.UTC).hour
    share = Decimal(c.history.hours[hour]) / total
    if share >= rule.min_share:
        return None
    values = {"hour_utc": str(hour), "share": f"{share:.4f}", "orders": str(total)}
    return _fire(
        rule, values, f"only {share:.1%} of the client's {total} orders were at {hour:02d}:00 UTC"
    )


_CHECKS: dict[str, Callable[[Rule, _Context], Fired | None]] = {
    "hours": _hours,
    "rate": _rate,
    "limit": _limit,
    "size_outlier": _size_outlier,
    "first_use": _first_use,
    "unusual_time": _unusual_time,
}
