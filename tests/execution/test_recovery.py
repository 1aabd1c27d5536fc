"""Recovery with the real counterparty (QuickFIX's executor): our side restarted mid-session
resumes its sequence numbers; a connection cut after the executor filled an order is recovered by
the engine's resend, and the fill is booked once, however often it is resent."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import quickfix as fix
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.execution.models import FixMessage, OrderFill
from dealchat.records.models import AuditEntry
from dealchat.surveillance.models import Alert
from tests.conftest import Clock
from tests.execution.conftest import eventually, fix_platform_for, logged_on, place, reload
from tests.execution.executor import EXECUTOR_ID, Executor
from tests.execution.proxy import CutProxy
from tests.factories.identity import make_user

ER = b"\x0135=8\x01"


def entries(platform: Platform, event: str) -> list[dict[str, object]]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.event == event).order_by(AuditEntry.seq)
        )
        return [json.loads(row.payload) for row in rows]


def filled(platform: Platform, order_id: str) -> bool:
    return reload(platform, order_id).state == "filled"


def test_a_restart_of_our_side_resumes_the_sequence_numbers(
    database_url: str, tmp_path: Path, clock: Clock, executor: Executor
) -> None:
    execution = executor.execution(executor.comp_id())
    first = fix_platform_for(database_url, tmp_path / "var", clock, execution)
    assert first.venue is not None
    first.venue.start()
    logged_on(first.venue)
    alice = make_user(first)
    one = place(first, alice.id, "buy 1m eurusd at 1.0851")
    eventually(lambda: filled(first, one.id), what="the first fill")
    before = first.venue.engine.sequence_numbers("EXEC")
    first.venue.stop()
    first.engine.dispose()

    second = fix_platform_for(database_url, tmp_path / "var", clock, execution)
    assert second.venue is not None
    second.venue.start()
    logged_on(second.venue)
    two = place(second, alice.id, "sell 2m eurusd at 1.0849")
    eventually(lambda: filled(second, two.id), what="the second fill")
    logons = entries(second, "fix:logged_on")
    assert logons[0]["next_sender_seq"] == 2  # a new session: the Logon was 1
    assert before is not None
    assert logons[1]["next_sender_seq"] > before[0]  # on from where the first process stopped
    sent = [entry["seq"] for entry in entries(second, "order:sent")]
    assert sent[1] > sent[0] + 2  # first order, its logout, the new logon, then the second
    assert entries(second, "fix:sequence_reset") == []
    second.venue.stop()
    second.engine.dispose()


def test_a_cut_connection_is_recovered_by_resend_and_booked_once(
    database_url: str, tmp_path: Path, clock: Clock, executor: Executor
) -> None:
    comp_id = executor.comp_id()
    with CutProxy(executor.port) as proxy:
        execution = executor.execution(comp_id, port=proxy.port)
        platform = fix_platform_for(database_url, tmp_path / "var", clock, execution)
        assert platform.venue is not None
        platform.venue.start()
        logged_on(platform.venue)
        alice = make_user(platform)
        proxy.cut_before(ER)  # the executor fills; its report is lost with the connection
        order = place(platform, alice.id, "buy 1m eurusd at 1.0851")
        eventually(lambda: filled(platform, order.id), seconds=20, what="the fill after resend")
        assert proxy.cuts == 1
        gaps = entries(platform, "fix:gap")
        assert gaps[0]["direction"] == "out"  # we asked for what we missed
        # Make the engine ask for the same report again: a second resend of a booked fill
        ours = fix.Session.lookupSession(fix.SessionID("FIX.4.4", comp_id, EXECUTOR_ID))
        ours.setNextTargetMsgSeqNum(ours.getExpectedTargetNum() - 2)
        proxy.drop_all()
        eventually(lambda: len(_reports(platform)) >= 2, seconds=20, what="the report resent again")
        logged_on(platform.venue)
        platform.venue.stop()
    with unit_of_work(platform.sessions) as session:
        fills = list(session.scalars(select(OrderFill)))
        alerts = sorted(session.scalars(select(Alert.rule)))
    assert [(f.quantity, f.price) for f in fills] == [(Decimal(1000000), Decimal("1.0851"))]
    assert len(entries(platform, "order:filled")) == 1
    reports = _reports(platform)
    assert all(report.poss_dup for report in reports)  # both came by resend
    assert [report.outcome for report in reports] == ["filled", "resent_duplicate"]
    assert set(alerts) == {"sequence_gap"}
    platform.engine.dispose()


def _reports(platform: Platform) -> list[FixMessage]:
    with unit_of_work(platform.sessions) as session:
        return list(
            session.scalars(
                select(FixMessage)
                .where(FixMessage.direction == "in", FixMessage.msg_type == "8")
                .order_by(FixMessage.at)
            )
        )
