"""What a counterparty's application message does to an order, in one transaction.

Every inbound message is journalled (`fix_message`) and audited with its session and MsgSeqNum
first. A report for no order of ours is unsolicited; one that fails an inbound control
(execution.checks) holds the order (`exec_review`) with an execution exception and an alert,
and books nothing. A report marked PossDupFlag=Y for an ExecID already booked is the engine's
resend of what we have: journalled, nothing else. Everything else moves the order on its
lifecycle: accepted, (partially) filled with one `order_fill` row per ExecID, cancelled,
replaced, rejected, expired. The caller (conversations.executions) tells the client.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.controls import limits
from dealchat.execution import checks
from dealchat.execution.fix import messages as m
from dealchat.execution.models import ExecutionException, FixMessage, FixOutbound, OrderFill
from dealchat.orders import lifecycle, settlements
from dealchat.orders.models import Order
from dealchat.orders.service import order_payload, ticket_of
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new
from dealchat.surveillance.models import Alert
from dealchat.surveillance.service import raise_alert

POLICY = "execution-controls"


@dataclass(frozen=True)
class Applied:
    """What a message did: `event` is the order's new lifecycle event ('' when none)."""

    event: str
    order: Order | None
    message: FixMessage
    report: m.Report | None = None
    findings: tuple[checks.Finding, ...] = ()


def receive(
    session: Session, *, provider: str, fix_session: str, raw: str, now: dt.datetime
) -> Applied:
    try:
        report = m.read_report(raw)
    except ValueError as error:
        journal = _journal(
            session, provider=provider, fix_session=fix_session, raw=raw, report=None, now=now
        )
        return _hold(session, journal, None, [checks.Finding("malformed", str(error))], now)
    journal = _journal(
        session, provider=provider, fix_session=fix_session, raw=raw, report=report, now=now
    )
    outbound, order = _find(session, provider, report)
    journal.order_id = None if order is None else order.id
    if order is None:
        if report.msg_type == m.EXECUTION_REPORT or report.is_fill:
            finding = checks.Finding("unsolicited", f"no order of ours has {report.clordid}")
            return _hold(session, journal, None, [finding], now)
        journal.outcome = "ignored"
        return Applied("", None, journal, report)
    at = _At(session, journal, order, outbound, report, now)
    if report.msg_type in (m.CANCEL_REJECT, m.SESSION_REJECT, m.BUSINESS_REJECT):
        return _refused(at)
    if report.msg_type != m.EXECUTION_REPORT:
        journal.outcome = "ignored"
        return Applied("", order, journal, report)
    return _execution_report(at)


class _At(NamedTuple):
    """One inbound message about one order, being applied."""

    session: Session
    journal: FixMessage
    order: Order
    outbound: FixOutbound | None
    report: m.Report
    now: dt.datetime


def _journal(
    session: Session,
    *,
    provider: str,
    fix_session: str,
    raw: str,
    report: m.Report | None,
    now: dt.datetime,
) -> FixMessage:
    fields = m.fields_of(raw)
    row = FixMessage(
        provider=provider,
        session=fix_session,
        direction="in",
        msg_type=fields.get(m.MSG_TYPE, "?")[:2],
        seq_num=int(fields.get(m.MSG_SEQ_NUM, "0") or 0),
        poss_dup=fields.get(m.POSS_DUP) == "Y",
        clordid=None if report is None else report.clordid,
        exec_id=None if report is None else report.exec_id,
        raw=m.printable(raw),
        at=now,
    )
    record_new(
        session,
        row,
        event=AuditEvent.FIX_MESSAGE_IN,
        actor=f"lp:{provider}",
        kind="fix-message",
        payload={
            "session": fix_session,
            "seq": row.seq_num,
            "msg_type": row.msg_type,
            "poss_dup": row.poss_dup,
            "clordid": row.clordid,
            "exec_id": row.exec_id,
            "message": row.raw,
        },
    )
    return row


def _find(
    session: Session, provider: str, report: m.Report
) -> tuple[FixOutbound | None, Order | None]:
    query = select(FixOutbound).where(FixOutbound.provider == provider)
    if report.msg_type == m.SESSION_REJECT or (
        report.msg_type == m.BUSINESS_REJECT and report.clordid is None
    ):
        if report.ref_seq_num is None:
            return None, None
        outbound = session.scalar(query.where(FixOutbound.seq_num == report.ref_seq_num))
    else:
        outbound = None  # the instruction it answers: its ClOrdID first, else the original's
        for clordid in (report.clordid, report.orig_clordid):
            if outbound is None and clordid:
                outbound = session.scalar(query.where(FixOutbound.clordid == clordid))
    if outbound is None:
        return None, None
    return outbound, session.get(Order, outbound.order_id, with_for_update=True)


def facts(session: Session, order: Order) -> checks.OrderFacts:
    booked = session.scalars(select(OrderFill.exec_id).where(OrderFill.order_id == order.id))
    return checks.OrderFacts(
        side=order.side,
        instrument=order.pair or order.isin or "",
        quantity=order.quantity,
        order_type=order.order_type,
        limit_price=order.limit_price,
        value_date=order.value_date,
        state=order.state,
        filled=order.fill_quantity or Decimal(0),
        exec_ids=frozenset(booked),
    )


def _execution_report(at: _At) -> Applied:
    session, journal, order, _outbound, report, now = at
    findings = checks.check_report(facts(session, order), report)
    if findings and report.poss_dup and [f.code for f in findings] == ["duplicate_fill"]:
        journal.outcome = "resent_duplicate"  # the engine's resend of a report we booked
        return Applied("", order, journal, report)
    if order.state == lifecycle.EXEC_REVIEW:
        findings.append(checks.Finding("under_review", "the order is held for review"))
    if findings:
        return _hold(session, journal, order, findings, now)
    return _apply(at)


def book_held(
    session: Session, *, journal: FixMessage, order: Order, prior_state: str, now: dt.datetime
) -> Applied:
    """Book a held report as people decided (orders.exceptions): the order back in the state
    it had, then the report applied without the controls that held it; a fill for an order that
    had ended (a cancel that crossed the fill) reopens it to be filled."""
    report = m.read_report(journal.raw.replace("|", m.SOH))
    if order.state == lifecycle.EXEC_REVIEW:
        order.state = prior_state
    if report.is_fill and order.state in lifecycle.TERMINAL:
        order.state = lifecycle.PARTIALLY_FILLED if order.fill_quantity else lifecycle.NEW
    outbound, _found = _find(session, journal.provider, report)
    return _apply(_At(session, journal, order, outbound, report, now))


def _apply(at: _At) -> Applied:
    session, journal, order, _outbound, report, now = at
    if report.lp_order_id:
        order.lp_order_id = report.lp_order_id
    if report.is_fill:
        return _fill(session, journal, order, report, now)
    handler = _BY_EXEC_TYPE.get(report.exec_type or "")
    if handler is None:
        journal.outcome = "noted"
        return Applied("", order, journal, report)
    return handler(at)


def _fill(
    session: Session, journal: FixMessage, order: Order, report: m.Report, now: dt.datetime
) -> Applied:
    assert report.last_qty is not None
    assert report.last_px is not None
    assert report.exec_id is not None
    before = order.fill_quantity or Decimal(0)
    cumulative = before + report.last_qty
    average = ((order.fill_price or Decimal(0)) * before + report.last_px * report.last_qty) / (
        cumulative
    )
    done = cumulative >= order.quantity
    target = lifecycle.FILLED if done else lifecycle.PARTIALLY_FILLED
    order.state = lifecycle.check_move(order.state, target)
    session.add(
        OrderFill(
            order_id=order.id,
            exec_id=report.exec_id,
            provider=journal.provider,
            quantity=report.last_qty,
            price=report.last_px,
            value_date=report.settl_date or order.value_date,
            message_id=journal.id,
            at=now,
        )
    )
    order.fill_quantity, order.fill_price = cumulative, _price(average, report.last_px)
    order.execution_id, order.executed_by = report.exec_id, journal.provider
    order.filled_at = now
    event = AuditEvent.ORDER_FILLED if done else AuditEvent.ORDER_PARTIALLY_FILLED
    record(
        session,
        event=event,
        actor=f"lp:{journal.provider}",
        subject=f"order:{order.id}",
        payload={
            "ref": order.ref,
            "price": order.fill_price,
            "quantity": order.fill_quantity,
            "execution_id": order.execution_id,
            "last_price": report.last_px,
            "last_quantity": report.last_qty,
            "value_date": order.value_date,
            "fix_message": journal.id,
        },
    )
    if done:
        limits.consume(session, order_id=order.id, now=now)
        settlements.book(session, order=order, now=now)
    journal.outcome = target
    return Applied(target, order, journal, report)


def _price(average: Decimal, last: Decimal) -> Decimal:
    """The average price to the precision of the prices that make it (one more place)."""
    places = max(-int(last.as_tuple().exponent), 0) + 1
    return average.quantize(Decimal(1).scaleb(-places)).normalize()


def _accepted(at: _At) -> Applied:
    session, journal, order, _outbound, report, _now = at
    if order.state == lifecycle.PENDING_NEW:
        order.state = lifecycle.NEW
    _event(session, journal, order, AuditEvent.ORDER_ACCEPTED, report)
    journal.outcome = lifecycle.NEW
    return Applied(lifecycle.NEW, order, journal, report)


def _ended(at: _At) -> Applied:
    session, journal, order, _outbound, report, now = at
    target = {"4": lifecycle.CANCELLED, "8": lifecycle.REJECTED, "C": lifecycle.EXPIRED}[
        report.exec_type or ""
    ]
    order.state = lifecycle.check_move(order.state, target)
    if target == lifecycle.REJECTED:
        order.reject_reason = (report.text or "rejected by the counterparty")[:255]
    event = {
        lifecycle.CANCELLED: AuditEvent.ORDER_CANCELLED,
        lifecycle.REJECTED: AuditEvent.ORDER_REJECTED,
        lifecycle.EXPIRED: AuditEvent.ORDER_EXPIRED,
    }[target]
    _event(session, journal, order, event, report)
    limits.release(session, order_id=order.id, now=now)
    journal.outcome = target
    return Applied(target, order, journal, report)


def _replaced(at: _At) -> Applied:
    session, journal, order, outbound, report, now = at
    if outbound is None or outbound.msg_type != m.REPLACE:
        return _hold(session, journal, order, [_unasked("replaced")], now)
    previous = order.ticket_hash
    order.quantity, order.limit_price = outbound.quantity, outbound.limit_price
    order.clordid = outbound.clordid
    order.ticket_hash = ticket_of(order).content_hash()
    order.state = _working(order)
    record(
        session,
        event=AuditEvent.ORDER_REPLACED,
        actor=f"lp:{journal.provider}",
        subject=f"order:{order.id}",
        payload={**order_payload(order), "previous_hash": previous, "fix_message": journal.id},
    )
    journal.outcome = "replaced"
    return Applied("replaced", order, journal, report)


def _refused(at: _At) -> Applied:
    session, journal, order, outbound, report, now = at
    """A cancel or replace the provider refused, or a session/business reject of an instruction:
    a refused new order is rejected; a refused cancel or replace leaves the order working."""
    why = (report.text or "refused by the counterparty")[:255]
    if outbound is not None and outbound.msg_type == m.NEW_ORDER:
        order.state = lifecycle.check_move(order.state, lifecycle.REJECTED)
        order.reject_reason = why
        _event(session, journal, order, AuditEvent.ORDER_REJECTED, report)
        limits.release(session, order_id=order.id, now=now)
        journal.outcome = lifecycle.REJECTED
        return Applied(lifecycle.REJECTED, order, journal, report)
    if order.state in (lifecycle.PENDING_CANCEL, lifecycle.PENDING_REPLACE):
        order.state = _working(order)
    _event(session, journal, order, AuditEvent.ORDER_CANCEL_REFUSED, report)
    journal.outcome = "refused"
    return Applied("refused", order, journal, report)


def _working(order: Order) -> str:
    if order.fill_quantity:
        return lifecycle.PARTIALLY_FILLED
    return lifecycle.NEW if order.lp_order_id else lifecycle.PENDING_NEW


def _unasked(what: str) -> checks.Finding:
    return checks.Finding("unsolicited", f"{what} without a request of ours")


def _event(
    session: Session, journal: FixMessage, order: Order, event: AuditEvent, report: m.Report
) -> None:
    record(
        session,
        event=event,
        actor=f"lp:{journal.provider}",
        subject=f"order:{order.id}",
        payload={
            "ref": order.ref,
            "state": order.state,
            "lp_order_id": report.lp_order_id,
            "exec_type": report.exec_type,
            "reason": report.text,
            "fix_message": journal.id,
        },
    )


_BY_EXEC_TYPE = {"0": _accepted, "4": _ended, "8": _ended, "C": _ended, "5": _replaced}


def _hold(
    session: Session,
    journal: FixMessage,
    order: Order | None,
    findings: list[checks.Finding],
    now: dt.datetime,
) -> Applied:
    """Book nothing: an execution exception for people, an alert per finding, the order held."""
    prior = None if order is None else order.state
    exception = ExecutionException(
        order_id=None if order is None else order.id,
        message_id=journal.id,
        provider=journal.provider,
        reasons=json.dumps([{"code": f.code, "detail": f.detail} for f in findings]),
        prior_state=prior,
        created_at=now,
    )
    record_new(
        session,
        exception,
        event=AuditEvent.ORDER_EXECUTION_HELD,
        actor="system:execution",
        kind="execution-exception",
        payload={
            "order": exception.order_id,
            "fix_message": journal.id,
            "findings": [f.code for f in findings],
        },
    )
    if order is not None and order.state in lifecycle.WORKING:
        order.state = lifecycle.EXEC_REVIEW
    for finding in findings:
        raise_alert(session, _alert(exception, journal, order, finding))
    journal.outcome = "held"
    return Applied("held", order, journal, None, tuple(findings))


def _alert(
    exception: ExecutionException,
    journal: FixMessage,
    order: Order | None,
    finding: checks.Finding,
) -> Alert:
    detail = {"detail": finding.detail, "provider": journal.provider, "seq": journal.seq_num}
    return Alert(
        kind="execution",
        policy=POLICY,
        rule=finding.code,
        category="execution",
        severity="high",
        subject=f"execution-exception:{exception.id}",
        conversation_id=None if order is None else order.conversation_id,
        order_id=None if order is None else order.id,
        party_id=None if order is None else order.client_id,
        detail=json.dumps({**detail, "ref": None if order is None else order.ref}),
    )
