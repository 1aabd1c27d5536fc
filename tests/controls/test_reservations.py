"""Limit headroom is reserved atomically: concurrent orders never take more than the limit."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.controls import limits
from dealchat.controls.definitions import Action
from dealchat.controls.models import ControlDecision, Reservation
from dealchat.controls.service import PreTrade, check_order
from dealchat.db.session import unit_of_work
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.service import verify
from tests.controls.rulesets import RATES, TUESDAY_10_LDN, ruleset
from tests.factories.controls import client, ticket

CLIENT_DAY = {
    "id": "client-day",
    "kind": "limit",
    "scope": "client",
    "window": "day",
    "max_amount": "10000000",
    "action": "reject",
}
PRETRADE = PreTrade(ruleset(CLIENT_DAY), RATES)
NOW = TUESDAY_10_LDN
THREADS = 60


def _check(platform: Platform, order_id: str, pretrade: PreTrade = PRETRADE) -> Action:
    with unit_of_work(platform.sessions) as session:
        order = session.get(Order, order_id)
        assert order is not None
        user = session.get(User, order.client_id)
        assert user is not None
        decision, _row = check_order(session, order=order, client=user, pretrade=pretrade, now=NOW)
        return decision.action


def _reserved(platform: Platform) -> dict[str, Decimal]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(Reservation).where(Reservation.state.in_(limits.COUNTING)))
        return {row.order_id: Decimal(str(row.amount)) for row in rows}


def test_concurrent_orders_never_exceed_one_limit(platform: Platform) -> None:
    """60 threads, each with its own session, confirm orders of 300k-900k USD against a
    10m USD daily limit at once: what is reserved never passes the limit, and every refused
    order really had no room left."""
    alice = client(platform, "alice")
    amounts = [Decimal(random.randrange(300_000, 900_001, 1_000)) for _ in range(THREADS)]
    with unit_of_work(platform.sessions) as session:
        ids = [
            ticket(
                session, client_id=alice, quantity=str(a), pair="USD/JPY", dealt="USD", now=NOW
            ).id
            for a in amounts
        ]
    start = threading.Barrier(THREADS)

    def one(order_id: str) -> Action:
        start.wait()
        return _check(platform, order_id)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        actions = dict(zip(ids, pool.map(one, ids), strict=True))
    reserved = _reserved(platform)
    total = sum(reserved.values(), Decimal(0))
    assert total <= Decimal(10_000_000)
    allowed = {i for i, action in actions.items() if action is Action.ALLOW}
    assert allowed == set(reserved)
    refused = [amount for i, amount in zip(ids, amounts, strict=True) if i not in allowed]
    assert refused, "the limit should have refused some of 60 orders of at least 300k"
    assert total + min(refused) > Decimal(10_000_000)
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        assert len(session.scalars(select(ControlDecision)).all()) == THREADS


def test_a_fill_consumes_and_a_cancel_releases_headroom(platform: Platform) -> None:
    alice = client(platform, "alice")
    with unit_of_work(platform.sessions) as session:
        first, second, third = (
            ticket(
                session, client_id=alice, quantity="4000000", pair="USD/JPY", dealt="USD", now=NOW
            ).id
            for _ in range(3)
        )
    assert _check(platform, first) is Action.ALLOW
    assert _check(platform, second) is Action.ALLOW
    assert _check(platform, third) is Action.REJECT  # 8m used: 4m more would pass 10m
    with unit_of_work(platform.sessions) as session:
        assert limits.consume(session, order_id=first, now=NOW) == 1
        assert limits.release(session, order_id=second, now=NOW) == 1
        assert limits.release(session, order_id=second, now=NOW) == 0  # nothing reserved twice
    assert set(_reserved(platform)) == {first}  # the fill still counts, the release does not
    assert _check(platform, third) is Action.ALLOW


def test_held_orders_count_against_the_limit(platform: Platform) -> None:
    holding = PreTrade(ruleset({**CLIENT_DAY, "action": "hold", "max_amount": "5000000"}), RATES)
    alice = client(platform, "alice")
    with unit_of_work(platform.sessions) as session:
        big, small = (
            ticket(session, client_id=alice, quantity=q, pair="USD/JPY", dealt="USD", now=NOW).id
            for q in ("6000000", "100000")
        )
    assert _check(platform, big, holding) is Action.HOLD
    assert _check(platform, small, holding) is Action.HOLD  # the held 6m already fills the day
    assert set(_reserved(platform)) == {big, small}
