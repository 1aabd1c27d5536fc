"""Inbound controls against a crafted counterparty (QuickFIX, the same binding, as an acceptor):
a wrong price, an over-fill, an unsolicited fill, a duplicate fill, a fill after a cancel and a
wrong value date each hold the order and raise an alert; nothing of them is booked. A forced
sequence gap is recovered by the engine and raises its own alert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from dealchat.access.policy import Actor
from dealchat.api.deps import Platform
from dealchat.conversations import executions
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.execution.models import ExecutionException, OrderFill
from dealchat.orders import exceptions
from dealchat.orders.models import Order
from dealchat.records.models import AuditEntry
from dealchat.settings import ExecutionSettings, FixProviderSettings
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.execution.acceptor import LP_ID, CraftedAcceptor
from tests.execution.conftest import (
    chat_texts,
    eventually,
    fix_platform_for,
    logged_on,
    place,
    reload,
)
from tests.factories.controls import approver
from tests.factories.identity import make_user

pytestmark = pytest.mark.usefixtures("fix_binding")


@pytest.fixture
def lp(tmp_path: Path) -> Iterator[CraftedAcceptor]:
    with CraftedAcceptor(tmp_path / "lp", comp_id="BANK") as acceptor:
        yield acceptor


@pytest.fixture
def crafted_platform(
    database_url: str, tmp_path: Path, clock: Clock, lp: CraftedAcceptor
) -> Iterator[Platform]:
    provider = FixProviderSettings(
        name="LP",
        host="127.0.0.1",
        port=lp.port,
        sender_comp_id="BANK",
        target_comp_id=LP_ID,
        reconnect_seconds=1,
    )
    execution = ExecutionSettings(venue="fix", providers=[provider])
    built = fix_platform_for(database_url, tmp_path / "var", clock, execution)
    assert built.venue is not None
    built.venue.start()
    logged_on(built.venue, "LP")
    yield built
    built.venue.stop()
    built.engine.dispose()


def held(platform: Platform, order_id: str | None = None) -> list[ExecutionException]:
    with unit_of_work(platform.sessions) as session:
        query = select(ExecutionException)
        if order_id is not None:
            query = query.where(ExecutionException.order_id == order_id)
        return list(session.scalars(query))


def alert_rules(platform: Platform) -> list[str]:
    with unit_of_work(platform.sessions) as session:
        return sorted(session.scalars(select(Alert.rule)))


def fills(platform: Platform) -> list[OrderFill]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(OrderFill)))


def reasons(exception: ExecutionException) -> list[str]:
    return [reason["code"] for reason in json.loads(exception.reasons)]


def held_for(platform: Platform, order: Order) -> ExecutionException:
    return eventually(lambda: held(platform, order.id), what="an execution exception")[0]


def test_a_fill_worse_than_the_limit_is_held(
    crafted_platform: Platform, lp: CraftedAcceptor
) -> None:
    alice = make_user(crafted_platform)
    lp.plan(lambda order: [lp.fill(order, price="1.0900")])
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0851")
    exception = held_for(crafted_platform, order)
    assert reasons(exception) == ["price_outside_limit"]
    assert exception.prior_state == "pending_new"
    assert reload(crafted_platform, order.id).state == "exec_review"
    assert fills(crafted_platform) == []
    assert "price_outside_limit" in alert_rules(crafted_platform)
    assert any("the desk is checking" in text for text in chat_texts(crafted_platform))


def test_an_overfill_is_held(crafted_platform: Platform, lp: CraftedAcceptor) -> None:
    alice = make_user(crafted_platform)
    lp.plan(lambda order: [lp.fill(order, quantity="2000000")])
    order = place(crafted_platform, alice.id, "sell 1m eurusd at 1.0800")
    assert reasons(held_for(crafted_platform, order)) == ["overfill"]
    assert fills(crafted_platform) == []
    assert alert_rules(crafted_platform) == ["overfill"]


def test_an_unsolicited_fill_is_held(crafted_platform: Platform, lp: CraftedAcceptor) -> None:
    alice = make_user(crafted_platform)
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0851")
    eventually(lambda: reload(crafted_platform, order.id).state == "filled", what="the fill")
    stranger = {11: "ORD-NOTOURS1", 38: "5000000", 44: "1.2", 54: "1", 55: "GBP/USD"}
    lp.send(lp.fill(stranger))
    exception = eventually(lambda: held(crafted_platform), what="an execution exception")[0]
    assert exception.order_id is None
    assert reasons(exception) == ["unsolicited"]
    assert alert_rules(crafted_platform) == ["unsolicited"]
    assert len(fills(crafted_platform)) == 1  # the solicited one only


def test_a_duplicate_fill_is_held_and_booked_once(
    crafted_platform: Platform, lp: CraftedAcceptor
) -> None:
    alice = make_user(crafted_platform)
    lp.plan(
        lambda order: [
            lp.fill(order, quantity="500000", cum="500000", exec_id="X-1"),
            lp.fill(order, quantity="500000", cum="1000000", exec_id="X-1"),
        ]
    )
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0851")
    assert reasons(held_for(crafted_platform, order)) == ["duplicate_fill"]
    assert [(f.exec_id, f.quantity) for f in fills(crafted_platform)] == [
        ("X-1", Decimal("500000"))
    ]
    assert reload(crafted_platform, order.id).state == "exec_review"


def test_a_fill_for_a_cancelled_order_is_held(
    crafted_platform: Platform, lp: CraftedAcceptor, clock: Clock
) -> None:
    alice = make_user(crafted_platform)
    lp.plan(lambda order: [lp.fill(order, exec_type="0")])  # accepted, resting
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0700 gtc")
    eventually(lambda: reload(crafted_platform, order.id).state == "new", what="accepted")
    with unit_of_work(crafted_platform.sessions) as session:
        working = session.get(Order, order.id)
        assert working is not None
        sent = executions.cancel(session, desk=crafted_platform.desk, order=working, now=clock())
        assert sent is not None
        assert sent.startswith("Cancel of")
    eventually(lambda: reload(crafted_platform, order.id).state == "cancelled", what="cancel")
    lp.send(lp.fill(lp.orders[0]))
    assert reasons(held_for(crafted_platform, order)) == ["fill_after_end"]
    assert fills(crafted_platform) == []
    texts = chat_texts(crafted_platform)
    assert any(text.startswith(f"{order.ref} is working at LP") for text in texts)
    assert any(text.startswith(f"CANCELLED {order.ref} at LP") for text in texts)


def test_a_wrong_value_date_is_held(crafted_platform: Platform, lp: CraftedAcceptor) -> None:
    alice = make_user(crafted_platform)
    lp.plan(lambda order: [lp.fill(order, settl_date="20300102")])
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0851", value_date="2030-01-03")
    eventually(lambda: lp.orders, what="the order at the counterparty")
    assert lp.orders[0][64] == "20300103"  # the order's value date went out as SettlDate
    assert reasons(held_for(crafted_platform, order)) == ["value_date_mismatch"]


def test_a_forced_sequence_gap_is_recovered_and_alerted(
    crafted_platform: Platform, lp: CraftedAcceptor
) -> None:
    alice = make_user(crafted_platform)

    def gap_then_fill(order: dict[int, str]) -> list[list[tuple[int, str]]]:
        lp.skip_sequence(3)
        return [lp.fill(order)]

    lp.plan(gap_then_fill)
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0851")
    eventually(lambda: reload(crafted_platform, order.id).state == "filled", what="the fill")
    eventually(lambda: "sequence_gap" in alert_rules(crafted_platform), what="the gap alert")
    with unit_of_work(crafted_platform.sessions) as session:
        gaps = [
            json.loads(entry.payload)
            for entry in session.scalars(
                select(AuditEntry).where(AuditEntry.event == "fix:gap").order_by(AuditEntry.seq)
            )
        ]
    assert gaps[0]["direction"] == "out"  # our ResendRequest for what we missed
    assert gaps[0]["detail"] == "we missed the counterparty's"
    assert any(gap.get("gap_fill") for gap in gaps)  # the acceptor's SequenceReset-GapFill


def _decide(platform: Platform, exception_id: str, actor: Actor, action: str) -> str:
    with unit_of_work(platform.sessions) as session:
        decided = exceptions.decide(
            session,
            exception_id=exception_id,
            actor=actor,
            action=action,
            comment="checked with the LP's desk by phone",
            now=platform.desk.clock(),
        )
        if decided.applied is not None:
            executions.tell(session, platform.desk, decided.applied)
        return decided.exception.state


def test_a_held_fill_is_booked_only_when_two_people_agree(
    crafted_platform: Platform, lp: CraftedAcceptor
) -> None:
    alice = make_user(crafted_platform)
    ann, bob = approver(crafted_platform, "ann"), approver(crafted_platform, "bob")
    lp.plan(lambda order: [lp.fill(order, price="1.0852")])  # a pip above the limit
    order = place(crafted_platform, alice.id, "buy 1m eurusd at 1.0851")
    exception = held_for(crafted_platform, order)
    assert _decide(crafted_platform, exception.id, ann, "book") == "open"
    with pytest.raises(DealchatError, match="second person"):
        _decide(crafted_platform, exception.id, ann, "book")
    with pytest.raises(DealchatError, match="proposal is to book"):
        _decide(crafted_platform, exception.id, bob, "discard")
    assert reload(crafted_platform, order.id).state == "exec_review"
    assert _decide(crafted_platform, exception.id, bob, "book") == "booked"
    booked = reload(crafted_platform, order.id)
    assert (booked.state, booked.fill_price) == ("filled", Decimal("1.0852"))
    assert any(text.startswith(f"FILLED {order.ref}") for text in chat_texts(crafted_platform))


def test_an_unsolicited_report_can_only_be_discarded(
    crafted_platform: Platform, lp: CraftedAcceptor
) -> None:
    ann, bob = approver(crafted_platform, "ann"), approver(crafted_platform, "bob")
    make_user(crafted_platform)
    place(crafted_platform, make_user(crafted_platform, "carol").id, "buy 1m eurusd at 1.0851")
    eventually(lambda: fills(crafted_platform), what="the solicited fill")
    lp.send(lp.fill({11: "ORD-NOTOURS2", 38: "1000000", 44: "1.1", 54: "2", 55: "EUR/USD"}))
    exception = eventually(lambda: held(crafted_platform), what="the unsolicited report")[0]
    with pytest.raises(DealchatError, match="only be discarded"):
        _decide(crafted_platform, exception.id, ann, "book")
    assert _decide(crafted_platform, exception.id, ann, "discard") == "open"
    assert _decide(crafted_platform, exception.id, bob, "discard") == "discarded"
    assert len(fills(crafted_platform)) == 1
