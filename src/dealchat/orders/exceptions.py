"""Execution exceptions: a counterparty's report that failed an inbound control, held for people.

Four eyes: one person with `order:approve` proposes to book the report or to discard it, a second
one confirms the same decision, and only then does anything happen; nobody confirms their own
proposal, and a second person who disagrees leaves it open (and says why). Booking applies the
report as if it had passed (orders.reports.book_held); discarding puts the order back as it was
(an unsolicited report, or a duplicate ExecID, can only be discarded). Every step is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.errors import DealchatError, ErrorCode
from dealchat.execution.models import ExecutionException, FixMessage
from dealchat.orders import lifecycle, reports
from dealchat.orders.models import Order
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

BOOK, DISCARD = "book", "discard"
OPEN, BOOKED, DISCARDED = "open", "booked", "discarded"
NEVER_BOOKED = frozenset({"unsolicited", "duplicate_fill", "malformed"})


@dataclass(frozen=True)
class Decided:
    exception: ExecutionException
    applied: reports.Applied | None  # when the second person's confirmation booked it


def open_exceptions(session: Session) -> list[ExecutionException]:
    return list(
        session.scalars(
            select(ExecutionException)
            .where(ExecutionException.state == OPEN)
            .order_by(ExecutionException.created_at)
        )
    )


def codes(exception: ExecutionException) -> list[str]:
    return [str(reason["code"]) for reason in json.loads(exception.reasons)]


def decide(
    session: Session,
    *,
    exception_id: str,
    actor: Actor,
    action: str,
    comment: str,
    now: dt.datetime,
) -> Decided:
    """Propose (first person) or confirm (a second person) `book` or `discard`."""
    exception = session.get(ExecutionException, exception_id, with_for_update=True)
    if exception is None or exception.state != OPEN:
        raise DealchatError(
            ErrorCode.NOT_FOUND, f"no open execution exception {exception_id}", http_status=404
        )
    _check(exception, actor, action, comment)
    if exception.proposal is None:
        exception.proposal, exception.proposed_by = action, actor.user_id
        _audit(
            session,
            exception,
            event=AuditEvent.EXECUTION_PROPOSED,
            actor=actor,
            action=action,
            comment=comment,
        )
        return Decided(exception, None)
    if actor.user_id == exception.proposed_by:
        raise _conflict("you proposed this: a second person must confirm it")
    if action != exception.proposal:
        raise _conflict(f"the proposal is to {exception.proposal}; discuss it before deciding")
    exception.decided_by, exception.comment, exception.closed_at = actor.user_id, comment, now
    applied = _carry_out(session, exception, action, now)
    exception.state = BOOKED if action == BOOK else DISCARDED
    _audit(
        session,
        exception,
        event=AuditEvent.EXECUTION_RESOLVED,
        actor=actor,
        action=action,
        comment=comment,
    )
    return Decided(exception, applied)


def _check(exception: ExecutionException, actor: Actor, action: str, comment: str) -> None:
    if action not in (BOOK, DISCARD):
        raise DealchatError(ErrorCode.BAD_REQUEST, "the decision is book or discard")
    if not comment.strip():
        raise DealchatError(ErrorCode.BAD_REQUEST, "say why (a comment is required)")
    if action == BOOK and (exception.order_id is None or NEVER_BOOKED & set(codes(exception))):
        raise _conflict("an unsolicited or duplicate report can only be discarded")
    if not can(actor, Right.ORDER_APPROVE):
        raise DealchatError(
            ErrorCode.FORBIDDEN, f"needs {Right.ORDER_APPROVE.value}", http_status=403
        )


def _carry_out(
    session: Session, exception: ExecutionException, action: str, now: dt.datetime
) -> reports.Applied | None:
    order = None if exception.order_id is None else session.get(Order, exception.order_id)
    if order is None:
        return None
    prior = exception.prior_state or lifecycle.PENDING_NEW
    if action == DISCARD:
        if order.state == lifecycle.EXEC_REVIEW:
            order.state = prior
        return None
    journal = session.get(FixMessage, exception.message_id)
    assert journal is not None
    return reports.book_held(session, journal=journal, order=order, prior_state=prior, now=now)


def _audit(
    session: Session,
    exception: ExecutionException,
    *,
    event: AuditEvent,
    actor: Actor,
    action: str,
    comment: str,
) -> None:
    record(
        session,
        event=event,
        actor=actor.audit_name,
        subject=f"execution-exception:{exception.id}",
        payload={
            "action": action,
            "comment": comment,
            "order": exception.order_id,
            "findings": codes(exception),
        },
    )


def _conflict(message: str) -> DealchatError:
    return DealchatError(ErrorCode.CONFLICT, message, http_status=409)
