"""Pattern rules over orders: orders just under a limit, and a pair outside the client's usual."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.orders.models import Order
from dealchat.surveillance.models import Alert
from tests.factories.identity import make_user
from tests.factories.surveillance import placed_order

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _alerts(platform: Platform) -> list[Alert]:
    with unit_of_work(platform.sessions) as s:
        return list(
            s.scalars(select(Alert).where(Alert.kind == "pattern").order_by(Alert.raised_at))
        )


def _ref(platform: Platform, order_id: str) -> str:
    with unit_of_work(platform.sessions) as s:
        order = s.get(Order, order_id)
        assert order is not None
        return order.ref


def test_three_orders_just_under_the_threshold_in_a_day_raise_one_alert(platform: Platform) -> None:
    client = make_user(platform, "carol")
    placed_order(platform, client_id=client.id, quantity="500000", at=T0)  # well under: ignored
    first = placed_order(platform, client_id=client.id, quantity="950000", at=T0)
    second = placed_order(
        platform, client_id=client.id, quantity="990000", at=T0 + dt.timedelta(hours=3)
    )
    placed_order(platform, client_id=client.id, quantity="1000000", at=T0 + dt.timedelta(hours=4))
    assert _alerts(platform) == []
    third = placed_order(
        platform, client_id=client.id, quantity="920000", at=T0 + dt.timedelta(hours=8)
    )
    placed_order(platform, client_id=client.id, quantity="930000", at=T0 + dt.timedelta(hours=9))
    alerts = _alerts(platform)
    assert [(a.rule, a.subject, a.party_id, a.severity) for a in alerts] == [
        ("structuring", f"order:{third}", client.id, "high")
    ]
    detail = json.loads(alerts[0].detail)
    assert detail["count"] == 3
    assert detail["orders"] == [_ref(platform, o) for o in (first, second, third)]
    assert detail["total"] == "2860000"


def test_orders_spread_over_more_than_the_window_raise_nothing(platform: Platform) -> None:
    client = make_user(platform, "carol")
    for day in range(4):
        placed_order(
            platform, client_id=client.id, quantity="950000", at=T0 + dt.timedelta(days=day)
        )
    assert [a.rule for a in _alerts(platform)] == []


def test_a_pair_outside_the_clients_history_is_flagged_once_there_is_history(
    platform: Platform,
) -> None:
    client = make_user(platform, "carol")
    placed_order(
        platform, client_id=client.id, quantity="10", pair="USD/TRY", at=T0
    )  # no history yet
    for hour in range(1, 6):
        placed_order(platform, client_id=client.id, quantity="10", at=T0 + dt.timedelta(hours=hour))
    assert _alerts(platform) == []
    odd = placed_order(
        platform, client_id=client.id, quantity="10", pair="USD/JPY", at=T0 + dt.timedelta(hours=7)
    )
    placed_order(platform, client_id=client.id, quantity="10", at=T0 + dt.timedelta(hours=8))
    alerts = _alerts(platform)
    assert [(a.rule, a.subject) for a in alerts] == [("unusual-instrument", f"order:{odd}")]
    detail = json.loads(alerts[0].detail)
    assert detail["instrument"] == "USD/JPY"
    assert detail["usual"][0] == "EUR/USD"
