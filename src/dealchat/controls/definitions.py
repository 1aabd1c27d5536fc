"""Rules, calendars and rates as declarative data, validated on load (pydantic). Pure: no I/O.

A rule set is one versioned document (YAML file or database row): its calendars, which desk
trades on which calendars, score thresholds and the rules. Every rule has a stable `id`, a `kind`,
what it does when it fires (`hold`, `reject`, or only `score`) and the score it adds.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

_ISO = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
_RULE_ID = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class Action(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    REJECT = "reject"
    SCORE = "score"  # a rule that only adds its score


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _local_time(value: Any) -> Any:
    """'07:30' only: YAML would read an unquoted 18:00 as the number 1080."""
    if isinstance(value, str | dt.time):
        return value
    raise ValueError("a time of day is written as a quoted 'HH:MM' string")


class Calendar(_Frozen):
    """When a desk takes orders: local opening hours on weekdays, holidays, per-currency cut-offs.

    No `open`/`close` means all day (a 24h desk); `close` before `open` is an overnight session.
    `currencies` limits a calendar to orders in those currencies (a market's holiday calendar).
    """

    name: str = Field(min_length=1, max_length=32)
    timezone: str
    weekdays: frozenset[int] = frozenset(range(5))  # Monday 0 .. Sunday 6
    open: dt.time | None = None
    close: dt.time | None = None
    holidays: frozenset[dt.date] = frozenset()
    cutoffs: dict[_ISO, dt.time] = Field(default_factory=dict)
    currencies: frozenset[_ISO] = frozenset()

    @field_serializer("weekdays", "holidays", "currencies")
    def _in_order(self, values: frozenset[Any]) -> list[Any]:
        """Sets dump sorted, so the canonical text (and its hash) of a rule set is stable."""
        return sorted(values)

    @field_validator("open", "close", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return None if value is None else _local_time(value)

    @field_validator("cutoffs", mode="before")
    @classmethod
    def _cutoff_times(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {key: _local_time(item) for key, item in value.items()}
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    @field_validator("weekdays")
    @classmethod
    def _days(cls, value: frozenset[int]) -> frozenset[int]:
        if not value or not value <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday), at least one")
        return value

    @model_validator(mode="after")
    def _both_or_neither(self) -> Calendar:
        if (self.open is None) != (self.close is None):
            raise ValueError(f"calendar {self.name}: give both open and close, or neither (24h)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class _Rule(_Frozen):
    id: _RULE_ID
    title: str = Field(default="", max_length=120)
    action: Action = Action.HOLD
    score: int = Field(default=0, ge=0, le=1000)
    enabled: bool = True

    @field_validator("action")
    @classmethod
    def _not_allow(cls, value: Action) -> Action:
        if value is Action.ALLOW:
            raise ValueError("a rule holds, rejects or scores; 'allow' is what is left")
        return value

    @property
    def name(self) -> str:
        return self.title or self.id


class HoursRule(_Rule):
    """The order's desk must be open on every one of its calendars."""

    kind: Literal["hours"]


class RateRule(_Rule):
    """The order's currency needs a stated rate to the base currency, not older than max_age."""

    kind: Literal["rate"]
    max_age_hours: int = Field(default=36, ge=1, le=24 * 30)


Scope = Literal["global", "region", "desk", "counterparty", "client"]


class LimitRule(_Rule):
    """An amount limit in the base currency for one order, a day or a rolling window.

    `scope` says what is limited (everything, or each region, desk, counterparty, client);
    `match` narrows it to one value (a per-client limit for one client).
    """

    kind: Literal["limit"]
    scope: Scope = "global"
    match: str | None = None
    window: Literal["order", "day", "rolling"] = "order"
    window_seconds: int | None = Field(default=None, ge=60, le=90 * 86400)
    day_timezone: str = "UTC"
    max_amount: Decimal = Field(gt=0)

    @model_validator(mode="after")
    def _window(self) -> LimitRule:
        if (self.window == "rolling") != (self.window_seconds is not None):
            raise ValueError(f"rule {self.id}: window_seconds goes with window 'rolling' only")
        if self.scope == "global" and self.match is not None:
            raise ValueError(f"rule {self.id}: a global limit matches nothing")
        ZoneInfo(self.day_timezone)
        return self


class SizeOutlierRule(_Rule):
    """The order is far larger than this client's own orders (robust z-score or percentile)."""

    kind: Literal["size_outlier"]
    method: Literal["mad", "percentile"] = "mad"
    threshold: Decimal = Field(default=Decimal("3.5"), gt=0)  # z-score, or a percentile 0-100
    min_history: int = Field(default=10, ge=3)


class FirstUseRule(_Rule):
    """The client has never dealt in this currency, with this counterparty, or at this tenor."""

    kind: Literal["first_use"]
    field: Literal["currency", "counterparty", "tenor"]
    min_history: int = Field(default=5, ge=1)


class UnusualTimeRule(_Rule):
    """The client rarely deals at this hour (UTC): under `min_share` of its orders."""

    kind: Literal["unusual_time"]
    min_share: Decimal = Field(default=Decimal("0.02"), gt=0, lt=1)
    min_history: int = Field(default=20, ge=1)


Rule = Annotated[
    HoursRule | RateRule | LimitRule | SizeOutlierRule | FirstUseRule | UnusualTimeRule,
    Field(discriminator="kind"),
]


class Thresholds(_Frozen):
    hold: int = Field(default=50, ge=1)
    reject: int = Field(default=100, ge=1)


class RuleSet(_Frozen):
    name: str = Field(default="default", pattern=r"^[a-z0-9_-]{1,32}$")
    version: int = Field(default=1, ge=1)
    base_currency: _ISO = "USD"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    four_eyes: int = Field(default=1, ge=1, le=5)  # distinct approvers a held order needs
    hold_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    calendars: tuple[Calendar, ...] = ()
    desks: dict[str, tuple[str, ...]] = Field(default_factory=dict)  # desk ('*' default) -> names
    rules: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        names = [calendar.name for calendar in self.calendars]
        if len(set(names)) != len(names):
            raise ValueError("calendar names must be unique")
        for desk, used in self.desks.items():
            unknown = set(used) - set(names)
            if unknown:
                raise ValueError(f"desk {desk} names unknown calendars {sorted(unknown)}")
        ids = [rule.id for rule in self.rules]
        duplicates = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if duplicates:
            raise ValueError(f"rule ids must be unique: {duplicates}")
        return self

    @cached_property
    def enabled_rules(self) -> tuple[Rule, ...]:
        return tuple(rule for rule in self.rules if rule.enabled)

    @cached_property
    def limit_rules(self) -> tuple[LimitRule, ...]:
        return tuple(rule for rule in self.enabled_rules if isinstance(rule, LimitRule))

    def calendar(self, name: str) -> Calendar:
        return next(calendar for calendar in self.calendars if calendar.name == name)

    def rule(self, rule_id: str) -> Rule:
        return next(rule for rule in self.rules if rule.id == rule_id)


class Rate(_Frozen):
    """How many units of the base currency one unit of `currency` is worth, from where, when."""

    currency: _ISO
    rate: Decimal = Field(gt=0)
    source: str = Field(min_length=1, max_length=64)
    as_of: dt.datetime

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("as_of needs a time zone")
        return value.astimezone(dt.UTC)


class RateTable(_Frozen):
    base_currency: _ISO = "USD"
    rates: tuple[Rate, ...] = ()

    @cached_property
    def by_currency(self) -> dict[str, Rate]:
        found = {rate.currency: rate for rate in self.rates}
        base = Rate(currency=self.base_currency, rate=Decimal(1), source="base", as_of=_EPOCH_FAR)
        found[self.base_currency] = base
        return found

    def find(self, currency: str) -> Rate | None:
        return self.by_currency.get(currency)


_EPOCH_FAR = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)


def parse_ruleset(text: str) -> RuleSet:
    """A rule set from YAML text; raises ValueError (pydantic's ValidationError) when invalid."""
    return RuleSet.model_validate(_yaml_mapping(text))


def parse_rates(text: str) -> RateTable:
    return RateTable.model_validate(_yaml_mapping(text))


def _yaml_mapping(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError) as error:  # malformed or nested past reason
        raise ValueError(f"not valid YAML: {str(error)[:300]}") from None
    if not isinstance(data, dict):
        raise ValueError("expected a YAML mapping at the top")
    return data


def ruleset_text(ruleset: RuleSet) -> str:
    """The canonical YAML of a rule set (what a version stores and its hash covers)."""
    return yaml.safe_dump(ruleset.model_dump(mode="json"), sort_keys=True, allow_unicode=True)
