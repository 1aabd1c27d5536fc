"""Backtests replay past orders in time order, with limits filled as the rule set would have."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from dealchat.api.deps import Platform
from dealchat.controls.backtest import backtest
from dealchat.controls.engine import LimitCheck
from dealchat.controls.velocity import Velocity
from dealchat.db.session import unit_of_work
from tests.controls.rulesets import RATES, TUESDAY_10_LDN, ruleset
from tests.factories.controls import client, ticket

DAY = {
    "id": "day",
    "kind": "limit",
    "scope": "client",
    "window": "day",
    "max_amount": "5000000",
    "action": "reject",
}


def test_velocity_sums_each_window_and_forgets_what_falls_out() -> None:
    velocity = Velocity()
    hour = LimitCheck("hour", "client:c1", TUESDAY_10_LDN - dt.timedelta(hours=1), Decimal(9))
    single = LimitCheck("single", "global", None, Decimal(9))
    for minutes in (0, 30, 50):
        velocity.add(
            [hour, single], at=TUESDAY_10_LDN + dt.timedelta(minutes=minutes), amount=Decimal(2)
        )
    assert velocity.usage([hour, single]) == {("hour", "client:c1"): Decimal(6)}
    later = LimitCheck("hour", "client:c1", TUESDAY_10_LDN + dt.timedelta(minutes=40), Decimal(9))
    assert velocity.usage([later]) == {("hour", "client:c1"): Decimal(2)}


def test_backtest_replays_orders_against_the_limits_it_would_have_filled(
    platform: Platform,
) -> None:
    alice, bob = client(platform, "alice"), client(platform, "bob")
    with unit_of_work(platform.sessions) as session:
        refs = []
        for minutes, who in ((0, alice), (10, bob), (20, alice), (30, alice)):
            at = TUESDAY_10_LDN + dt.timedelta(minutes=minutes)
            order = ticket(session, client_id=who, quantity="2000000", now=at)
            order.state, order.placed_at = "filled", at
            refs.append(order.ref)
    with unit_of_work(platform.sessions) as session:
        report = backtest(session, ruleset=ruleset(DAY), rates=RATES)
    assert report.orders == 4
    assert report.decisions == {"allow": 3, "reject": 1}  # alice's third 2.2m passes 5m USD
    assert report.fired == {"day": 1}
    (changed,) = report.changed
    assert (changed.ref, changed.was, changed.would.value) == (refs[3], "filled", "reject")
    with unit_of_work(platform.sessions) as session:
        later = backtest(
            session,
            ruleset=ruleset(DAY),
            rates=RATES,
            since=TUESDAY_10_LDN + dt.timedelta(minutes=15),
        )
    assert later.orders == 2
    assert later.changed == []
