"""Run a rule set over past confirmed orders: what it would have decided, before it is switched on.

Orders are replayed in time order. Each one is judged at the instant it was placed, against the
client's history up to then and the cumulative limits as the rule set would have filled them
(orders it would have rejected take no headroom). The result sits next to what was decided then.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.controls.definitions import Action, RateTable, RuleSet
from dealchat.controls.engine import OrderFacts, decide, limit_checks
from dealchat.controls.history import PastOrder, summarise
from dealchat.controls.models import ControlDecision
from dealchat.controls.service import currency_of
from dealchat.controls.velocity import Velocity
from dealchat.identity.models import User
from dealchat.orders.models import Order

REPLAYED = ("placed", "filled", "held", "rejected", "aborted", "expired")
HISTORY = 500
_DECISIONS = frozenset(action.value for action in Action)


@dataclass(frozen=True)
class Replayed:
    ref: str
    at: dt.datetime
    was: str  # the decision recorded then, or the order's state when none was
    would: Action
    fired: tuple[str, ...]


@dataclass
class Report:
    ruleset: str
    version: int
    orders: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    fired: Counter[str] = field(default_factory=Counter)
    changed: list[Replayed] = field(default_factory=list)

    def add(self, replayed: Replayed) -> None:
        self.orders += 1
        self.decisions[replayed.would.value] += 1
        self.fired.update(replayed.fired)
        before = replayed.was if replayed.was in _DECISIONS else _as_decision(replayed.was)
        if before != replayed.would.value:
            self.changed.append(replayed)

    def as_dict(self) -> dict[str, object]:
        return {
            "ruleset": self.ruleset,
            "version": self.version,
            "orders": self.orders,
            "decisions": dict(self.decisions),
            "fired": dict(self.fired),
            "changed": [
                {
                    "ref": r.ref,
                    "at": r.at.isoformat(),
                    "was": r.was,
                    "would": r.would.value,
                    "fired": list(r.fired),
                }
                for r in self.changed
            ],
        }


def backtest(
    session: Session,
    *,
    ruleset: RuleSet,
    rates: RateTable,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Report:
    report = Report(ruleset.name, ruleset.version)
    velocity = Velocity()
    past: dict[str, list[PastOrder]] = defaultdict(list)
    clients: dict[str, User | None] = {}
    recorded = _recorded(session)
    for order in _orders(session, since, until):
        client = clients.setdefault(order.client_id, session.get(User, order.client_id))
        at = order.placed_at or order.created_at
        facts = _facts(order, client, ruleset, at)
        checks = limit_checks(ruleset, facts)
        history = summarise(past[order.client_id][-HISTORY:])
        decision = decide(
            ruleset, facts, rates=rates, usage=velocity.usage(checks), history=history
        )
        if decision.action is not Action.REJECT and decision.base_amount is not None:
            velocity.add(checks, at=at, amount=decision.base_amount)
            past[order.client_id].append(
                PastOrder(decision.base_amount, facts.currency, facts.counterparty, order.tenor, at)
            )
        was = recorded.get(order.id, order.state)
        report.add(
            Replayed(order.ref, at, was, decision.action, tuple(f.rule_id for f in decision.fired))
        )
    return report


def _facts(order: Order, client: User | None, ruleset: RuleSet, at: dt.datetime) -> OrderFacts:
    return OrderFacts(
        order_id=order.id,
        client_id=order.client_id,
        desk=None if client is None else client.desk,
        region=None if client is None else client.region,
        counterparty=order.counterparty or order.executed_by,
        currency=currency_of(order, ruleset.base_currency),
        amount=Decimal(str(order.quantity)),
        instrument=order.pair or order.isin or "",
        tenor=order.tenor,
        at=at,
    )


def _as_decision(state: str) -> str:
    """An order decided before the controls existed: placed or filled means it was allowed."""
    return {"placed": "allow", "filled": "allow", "held": "hold"}.get(state, "reject")


def _orders(session: Session, since: dt.datetime | None, until: dt.datetime | None) -> list[Order]:
    query = select(Order).where(Order.state.in_(REPLAYED))
    if since is not None:
        query = query.where(Order.created_at >= since)
    if until is not None:
        query = query.where(Order.created_at < until)
    rows = list(session.scalars(query))
    rows.sort(key=lambda o: o.placed_at or o.created_at)
    return rows


def _recorded(session: Session) -> dict[str, str]:
    rows = session.execute(
        select(ControlDecision.order_id, ControlDecision.action).order_by(ControlDecision.at)
    )
    return {str(order_id): str(action) for order_id, action in rows}
