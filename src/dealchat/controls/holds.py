"""Four-eyes holds: a held order is released by `required` distinct approvers, or aborted.

An approver is an internal user holding `order:approve` for the client (its desk, region...), who
neither entered the order nor owns the client (the client's relationship manager). A hold nobody
releases in time expires. Every step is recorded; an abort or an expiry gives back the headroom.
Placing a released order with the counterparty is the desk's job (conversations.pretrade).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.controls import limits
from dealchat.controls.definitions import RuleSet
from dealchat.controls.models import ControlDecision, Hold, HoldStep
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.orders.models import Order
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new

OPEN, RELEASED, ABORTED, EXPIRED = "open", "released", "aborted", "expired"
APPROVE, ABORT = "approve", "abort"


@dataclass(frozen=True)
class HoldView:
    hold: Hold
    order: Order
    decision: ControlDecision
    approvers: tuple[str, ...]


def open_hold(
    session: Session, *, order: Order, decision: ControlDecision, ruleset: RuleSet, now: dt.datetime
) -> Hold:
    order.state = "held"
    hold = Hold(
        order_id=order.id,
        decision_id=decision.id,
        state=OPEN,
        required=ruleset.four_eyes,
        entered_by=order.client_id,
        created_at=now,
        expires_at=now + dt.timedelta(minutes=ruleset.hold_minutes),
    )
    record_new(
        session,
        hold,
        event=AuditEvent.ORDER_HELD,
        actor="system:controls",
        kind="hold",
        payload={
            "order": order.id,
            "ref": order.ref,
            "required": hold.required,
            "expires_at": hold.expires_at,
            "decision": decision.id,
        },
    )
    return hold


def check_approver(session: Session, *, order: Order, hold: Hold, actor: Actor) -> None:
    """Raise unless `actor` may release or abort this hold (separation of duties)."""
    client = session.get(User, order.client_id)
    assert client is not None
    decision = can(actor, Right.ORDER_APPROVE, client.attributes())
    if not decision:
        raise _forbidden(f"needs {Right.ORDER_APPROVE.value}: {decision.rule}")
    if actor.user_id in (hold.entered_by, order.client_id):
        raise _forbidden("whoever entered an order cannot approve it")
    if client.owner_id is not None and actor.user_id == client.owner_id:
        raise _forbidden("the client's own relationship manager cannot approve its orders")


def approve(
    session: Session, *, hold_id: str, actor: Actor, comment: str, now: dt.datetime
) -> Hold:
    """Count one distinct approval; the last one needed releases the hold (state `released`)."""
    hold, order = _locked_open(session, hold_id, now)
    check_approver(session, order=order, hold=hold, actor=actor)
    approvers = _approvers(session, hold.id)
    if actor.user_id in approvers:
        raise DealchatError(
            ErrorCode.CONFLICT, "you approved already: another person must", http_status=409
        )
    _step(session, hold, order, actor, APPROVE, comment, now, AuditEvent.HOLD_APPROVED)
    if len(approvers) + 1 >= hold.required:
        hold.state, hold.closed_at = RELEASED, now
        record(
            session,
            event=AuditEvent.HOLD_RELEASED,
            actor=actor.audit_name,
            subject=f"order:{order.id}",
            payload={"hold": hold.id, "ref": order.ref, "approvers": [*approvers, actor.user_id]},
        )
    return hold


def abort(session: Session, *, hold_id: str, actor: Actor, reason: str, now: dt.datetime) -> Hold:
    """One authorised person stops a held order; its headroom is released."""
    hold, order = _locked_open(session, hold_id, now)
    check_approver(session, order=order, hold=hold, actor=actor)
    _step(session, hold, order, actor, ABORT, reason, now, AuditEvent.HOLD_ABORTED)
    hold.state, hold.closed_at = ABORTED, now
    order.state, order.reject_reason = "aborted", f"stopped by the desk: {reason}"[:255]
    record(
        session,
        event=AuditEvent.ORDER_ABORTED,
        actor=actor.audit_name,
        subject=f"order:{order.id}",
        payload={"ref": order.ref, "reason": reason},
    )
    limits.release(session, order_id=order.id, now=now)
    return hold


def expire_due(session: Session, *, now: dt.datetime) -> list[tuple[Hold, Order]]:
    """Holds nobody released in time: expired, orders expired, headroom released."""
    due = session.execute(
        select(Hold, Order)
        .join(Order, Order.id == Hold.order_id)
        .where(Hold.state == OPEN, Hold.expires_at <= now)
        .with_for_update(of=Hold)
    ).all()
    for hold, order in due:
        hold.state, hold.closed_at = EXPIRED, now
        order.state, order.reject_reason = "expired", "not approved in time"
        record(
            session,
            event=AuditEvent.HOLD_EXPIRED,
            actor="system:controls",
            subject=f"order:{order.id}",
            payload={"hold": hold.id, "ref": order.ref, "expires_at": hold.expires_at},
        )
        limits.release(session, order_id=order.id, now=now)
    return [(hold, order) for hold, order in due]


def views(
    session: Session, *, state: str | None = OPEN, hold_id: str | None = None
) -> list[HoldView]:
    query = (
        select(Hold, Order, ControlDecision)
        .join(Order, Order.id == Hold.order_id)
        .join(ControlDecision, ControlDecision.id == Hold.decision_id)
        .order_by(Hold.created_at)
    )
    if state is not None:
        query = query.where(Hold.state == state)
    if hold_id is not None:
        query = query.where(Hold.id == hold_id)
    return [
        HoldView(hold, order, decision, tuple(_approvers(session, hold.id)))
        for hold, order, decision in session.execute(query).all()
    ]


def find(session: Session, *, hold_or_ref: str) -> Hold | None:
    """A hold by its id or by its order's reference (ORD-...)."""
    found = session.get(Hold, hold_or_ref)
    if found is not None:
        return found
    return session.scalar(
        select(Hold).join(Order, Order.id == Hold.order_id).where(Order.ref == hold_or_ref)
    )


def _locked_open(session: Session, hold_id: str, now: dt.datetime) -> tuple[Hold, Order]:
    hold = session.scalar(select(Hold).where(Hold.id == hold_id).with_for_update())
    if hold is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such hold", http_status=404)
    if hold.state != OPEN:
        raise DealchatError(ErrorCode.CONFLICT, f"the hold is {hold.state}", http_status=409)
    if hold.expires_at <= now:
        raise DealchatError(ErrorCode.CONFLICT, "the hold has expired", http_status=409)
    order = session.get(Order, hold.order_id)
    assert order is not None
    return hold, order


def _approvers(session: Session, hold_id: str) -> list[str]:
    return list(
        session.scalars(
            select(HoldStep.approver_id)
            .where(HoldStep.hold_id == hold_id, HoldStep.action == APPROVE)
            .order_by(HoldStep.at)
        )
    )


def _step(  # noqa: PLR0917 - one private helper for the two kinds of step
    session: Session,
    hold: Hold,
    order: Order,
    actor: Actor,
    action: str,
    comment: str,
    now: dt.datetime,
    event: AuditEvent,
) -> None:
    step = HoldStep(
        hold_id=hold.id, approver_id=actor.user_id, action=action, comment=comment[:500], at=now
    )
    record_new(
        session,
        step,
        event=event,
        actor=actor.audit_name,
        kind="hold_step",
        payload={"hold": hold.id, "ref": order.ref, "comment": comment},
    )


def _forbidden(message: str) -> DealchatError:
    return DealchatError(ErrorCode.FORBIDDEN, message, http_status=403)
