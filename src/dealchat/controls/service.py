"""The pre-trade check on a confirmed order: facts from the database, the engine's decision,
headroom reserved under the limits' row locks, the decision stored and audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.controls import limits
from dealchat.controls.calendars import closed_because, desk_calendars, next_open, opening_words
from dealchat.controls.definitions import (
    Action,
    RateTable,
    RuleSet,
    parse_rates,
    parse_ruleset,
)
from dealchat.controls.engine import Decision, History, OrderFacts, decide, limit_checks, to_base
from dealchat.controls.history import PastOrder, summarise
from dealchat.controls.models import ControlDecision
from dealchat.controls.rulesets import active_ruleset
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent
from dealchat.records.service import record_new

PAST_STATES = ("placed", "filled", "held")


@dataclass(frozen=True)
class PreTrade:
    """The file rule set (in force until a database version is approved) and the stated rates."""

    fallback: RuleSet
    rates: RateTable
    default_counterparty: str | None = None
    history_size: int = 500

    @classmethod
    def load(
        cls,
        *,
        rules_file: Path | None = None,
        rates_file: Path | None = None,
        default_counterparty: str | None = None,
    ) -> PreTrade:
        rules = rules_file.read_text("utf-8") if rules_file else shipped_text("default.yaml")
        rates = rates_file.read_text("utf-8") if rates_file else shipped_text("rates.yaml")
        return cls(parse_ruleset(rules), parse_rates(rates), default_counterparty)


def shipped_text(name: str) -> str:
    return files("dealchat.controls").joinpath("rules", name).read_text(encoding="utf-8")


def currency_of(order: Order, base: str) -> str:
    """What the amount is in: the dealt currency, else the pair's base, else (a bond's face)
    the base currency."""
    if order.dealt_currency:
        return order.dealt_currency
    if order.pair:
        return order.pair.split("/")[0]
    return base


def order_facts(
    order: Order, client: User, *, base: str, default_counterparty: str | None, at: dt.datetime
) -> OrderFacts:
    return OrderFacts(
        order_id=order.id,
        client_id=order.client_id,
        desk=client.desk,
        region=client.region,
        counterparty=order.counterparty or default_counterparty,
        currency=currency_of(order, base),
        amount=Decimal(str(order.quantity)),
        instrument=order.pair or order.isin or "",
        tenor=order.tenor,
        at=at,
    )


def client_history(
    session: Session, *, order: Order, pretrade: PreTrade, ruleset: RuleSet
) -> History:
    """The client's last `history_size` orders that went out (or are held), at today's rates."""
    past = session.scalars(
        select(Order)
        .where(
            Order.client_id == order.client_id,
            Order.id != order.id,
            Order.state.in_(PAST_STATES),
        )
        .order_by(Order.created_at.desc())
        .limit(pretrade.history_size)
    )
    found = []
    for row in past:
        currency = currency_of(row, ruleset.base_currency)
        rate = pretrade.rates.find(currency)
        if rate is None:
            continue
        amount = to_base(Decimal(str(row.quantity)), rate.rate)
        found.append(
            PastOrder(
                amount, currency, row.counterparty, row.tenor, row.placed_at or row.created_at
            )
        )
    return summarise(found)


def check_order(
    session: Session, *, order: Order, client: User, pretrade: PreTrade, now: dt.datetime
) -> tuple[Decision, ControlDecision]:
    """Decide on `order`; unless rejected it reserves headroom (held orders count too)."""
    ruleset = active_ruleset(session, fallback=pretrade.fallback)
    facts = order_facts(
        order,
        client,
        base=ruleset.base_currency,
        default_counterparty=pretrade.default_counterparty,
        at=now,
    )
    checks = limit_checks(ruleset, facts)
    usage = limits.usage_locked(session, checks)
    history = client_history(session, order=order, pretrade=pretrade, ruleset=ruleset)
    decision = decide(ruleset, facts, rates=pretrade.rates, usage=usage, history=history)
    if decision.action is not Action.REJECT and decision.base_amount is not None:
        limits.reserve(
            session, order_id=order.id, checks=checks, amount=decision.base_amount, at=now
        )
    row = ControlDecision(
        order_id=order.id,
        action=decision.action.value,
        score=decision.score,
        ruleset=decision.ruleset,
        version=decision.version,
        detail=canonical_json(decision.as_record()),
        explanation=decision.explain(),
        at=now,
    )
    record_new(
        session,
        row,
        event=AuditEvent.CONTROL_DECIDED,
        actor="system:controls",
        kind="control_decision",
        payload={"order": order.id, "ref": order.ref, **decision.as_record()},
    )
    return decision, row


def closed_for(
    session: Session, *, order: Order, client: User, pretrade: PreTrade, now: dt.datetime
) -> str | None:
    """Why the client's desk may not send `order` to the market at `now` under the rule set's
    `hours` rule (a hold released after the close), with when it opens; None when it may."""
    ruleset = active_ruleset(session, fallback=pretrade.fallback)
    if not any(rule.kind == "hours" for rule in ruleset.rules):
        return None
    currency = currency_of(order, ruleset.base_currency)
    for calendar in desk_calendars(ruleset, client.desk):
        reason = closed_because(calendar, now, currency)
        if reason is not None:
            return f"{reason}; {opening_words(calendar, next_open(calendar, now, currency))}"
    return None
