"""The pre-trade check in the order flow: a confirmed order is allowed, held or rejected before it
reaches the counterparty, and the client is told plainly; a released hold is placed and the client
told in the same chat (desk.notify)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.channels.interfaces import OutboundMessage
from dealchat.controls import holds, limits
from dealchat.controls.definitions import Action
from dealchat.controls.engine import Decision
from dealchat.controls.rulesets import active_ruleset
from dealchat.controls.service import check_order, closed_for
from dealchat.conversations import desk as chat_desk  # desk -> flow -> here: used at call time
from dealchat.conversations import executions, replies
from dealchat.conversations.context import Desk
from dealchat.conversations.receipt_reply import receipt_message
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.orders import service as orders
from dealchat.orders.models import Order
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

dealers = logging.getLogger("dealchat.desk")

HELD = (
    "{ref} is on hold: the desk checks it before it goes to the market ({why}). "
    "I will tell you here when it is released or stopped."
)
REJECTED = "{ref} was not sent to the market: {why}. Nothing was traded."
ABORTED = "{ref} was stopped by the desk and not sent to the market. Nothing was traded."
EXPIRED = "{ref} was not approved in time and was not sent to the market. Nothing was traded."


def client_reasons(decision: Decision) -> str:
    """The fired rules' titles (plain words, no limit figures) for the client; a closed desk
    also says when it opens."""
    titles: list[str] = []
    for fired in decision.fired:
        title = fired.title.lower()
        if fired.kind == "hours" and fired.values.get("opens"):
            title = f"{title} (the desk {fired.values['opens']})"
        if title not in titles:
            titles.append(title)
    return ", ".join(titles) or "a pre-trade check"


def place_checked(
    session: Session, *, desk: Desk, order: Order, client: User, now: dt.datetime
) -> str:
    """Check, then place, hold or reject `order`; returns the reply for the client."""
    if desk.pretrade is None:
        return _place(session, desk, order, now)
    decision, row = check_order(
        session, order=order, client=client, pretrade=desk.pretrade, now=now
    )
    dealers.info(
        "pre-trade %s for %s", decision.action.value, order.ref, extra={"decision": row.id}
    )
    if decision.action is Action.ALLOW:
        return _place(session, desk, order, now)
    why = client_reasons(decision)
    if decision.action is Action.HOLD:
        ruleset = active_ruleset(session, fallback=desk.pretrade.fallback)
        holds.open_hold(session, order=order, decision=row, ruleset=ruleset, now=now)
        return HELD.format(ref=order.ref, why=why)
    order.state, order.reject_reason = "rejected", f"pre-trade controls: {why}"[:255]
    record(
        session,
        event=AuditEvent.ORDER_BLOCKED,
        actor="system:controls",
        subject=f"order:{order.id}",
        payload={"ref": order.ref, "decision": row.id, "reason": order.reject_reason},
    )
    return REJECTED.format(ref=order.ref, why=why)


def _place(session: Session, desk: Desk, order: Order, now: dt.datetime) -> str:
    if desk.routing is not None:  # a FIX counterparty: sent after commit, answered later
        return executions.place(session, desk=desk, order=order, now=now)
    orders.place(session, order=order, counterparty=desk.counterparty, now=now)
    if order.state == "filled":
        limits.consume(session, order_id=order.id, now=now)
    else:
        limits.release(session, order_id=order.id, now=now)
    return replies.fill_text(order)


def approve_hold(
    session: Session, *, desk: Desk, hold_id: str, actor: Actor, comment: str, now: dt.datetime
) -> Order:
    """One approval; when it is the last one needed the order is placed and the client told.
    A release while the client's desk is closed is refused (the hold stays open, or expires)."""
    hold = holds.approve(session, hold_id=hold_id, actor=actor, comment=comment, now=now)
    order = session.get(Order, hold.order_id)
    assert order is not None
    if hold.state == holds.RELEASED:
        check_desk_open(session, desk=desk, order=order, now=now)
        text = _place(session, desk, order, now)
        _tell(session, desk, order, receipt_message(session, desk, order, text, now=now))
    return order


def check_desk_open(session: Session, *, desk: Desk, order: Order, now: dt.datetime) -> None:
    """Raise (409) when the client's desk is closed at `now`: nothing goes to a closed market."""
    client = session.get(User, order.client_id)
    if desk.pretrade is None or client is None:
        return
    why = closed_for(session, order=order, client=client, pretrade=desk.pretrade, now=now)
    if why is not None:
        message = f"{order.ref} cannot be released now: {why}"
        raise DealchatError(ErrorCode.CONFLICT, message, http_status=409)


def abort_hold(
    session: Session, *, desk: Desk, hold_id: str, actor: Actor, reason: str, now: dt.datetime
) -> Order:
    hold = holds.abort(session, hold_id=hold_id, actor=actor, reason=reason, now=now)
    order = session.get(Order, hold.order_id)
    assert order is not None
    _tell(session, desk, order, OutboundMessage(ABORTED.format(ref=order.ref)))
    return order


def expire_holds(session: Session, *, desk: Desk, now: dt.datetime) -> list[Order]:
    expired = holds.expire_due(session, now=now)
    for _hold, order in expired:
        _tell(session, desk, order, OutboundMessage(EXPIRED.format(ref=order.ref)))
    return [order for _hold, order in expired]


def _tell(session: Session, desk: Desk, order: Order, answer: OutboundMessage) -> None:
    chat_desk.notify(session, desk=desk, conversation_id=order.conversation_id, answer=answer)
