"""The chat side of execution with a FIX counterparty: what the client is told, and when.

A confirmed order is sent after commit (execution.routing); the client hears "sent" at once and
then, in her chat, whatever the counterparty answers: accepted and working (a resting order),
partly filled, filled (with the receipt link), rejected, cancelled, expired, replaced, or held by
the desk because the counterparty's report failed a check. `cancel ORD-..` and `amend ORD-..` of a
working order become an OrderCancelRequest and an OrderCancelReplaceRequest.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from dealchat.channels.interfaces import OutboundMessage
from dealchat.controls import limits
from dealchat.conversations import replies
from dealchat.conversations.context import Desk
from dealchat.conversations.receipt_reply import receipt_message
from dealchat.orders import lifecycle, reports, routing
from dealchat.orders.models import Order
from dealchat.orders.reports import Applied
from dealchat.orders.service import ticket_of
from dealchat.orders.tickets import amount_text, describe
from dealchat.records.chain import decimal_text
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

if TYPE_CHECKING:  # the QuickFIX binding is needed only when orders go over FIX
    from dealchat.execution.fix.runtime import FixVenue, Receive

ZERO = Decimal(0)
SENT = "SENT {ref} to {venue}: {what}. I will tell you here as soon as {venue} answers."
WORKING = "{ref} is working at {venue}: {what}. I will tell you here when it is filled."
PARTIAL = (
    "PARTLY FILLED {ref}: {last} at {price} with {venue}; {done} of {total} done, "
    "{open} still working."
)
CANCELLED = "CANCELLED {ref} at {venue}. {done}"
EXPIRED = "EXPIRED {ref} at {venue} (its time in force ended). {done}"
REPLACED = "AMENDED {ref} at {venue}: {what}."
REFUSED = "{venue} did not accept the change to {ref}: {why}. The order stands as it was."
REVIEW = (
    "{ref}: the desk is checking {venue}'s report before anything is booked. "
    "I will tell you here what happens."
)
CANCEL_SENT = "Cancel of {ref} sent to {venue}. I will tell you here when {venue} confirms."
REPLACE_SENT = "Change to {ref} sent to {venue}: {what}. I will tell you here when it is done."
NOT_SENT = "{ref} was not sent to the market: {why}. Nothing was traded."


def place(session: Session, *, desk: Desk, order: Order, now: dt.datetime) -> str:
    """Queue a confirmed order for its FIX counterparty; the reply that says it was sent."""
    assert desk.routing is not None
    try:
        routing.submit(session, order=order, routing=desk.routing, now=now)
    except routing.NotRoutableError as error:
        order.state, order.reject_reason = lifecycle.REJECTED, str(error)[:255]
        record(
            session,
            event=AuditEvent.ORDER_BLOCKED,
            actor="system:execution",
            subject=f"order:{order.id}",
            payload={"ref": order.ref, "reason": order.reject_reason},
        )
        limits.release(session, order_id=order.id, now=now)
        return NOT_SENT.format(ref=order.ref, why=error)
    return SENT.format(ref=order.ref, venue=order.routed_to, what=_what(order))


def cancel(session: Session, *, desk: Desk, order: Order, now: dt.datetime) -> str | None:
    """An OrderCancelRequest for a working order; None when it is not cancellable here."""
    if desk.routing is None or order.state not in lifecycle.CANCELLABLE:
        return None
    actor = f"user:{order.client_id}"
    routing.request_cancel(session, order=order, routing=desk.routing, actor=actor, now=now)
    return CANCEL_SENT.format(ref=order.ref, venue=order.routed_to)


def replace(
    session: Session,
    *,
    desk: Desk,
    order: Order,
    quantity: Decimal,
    limit_price: Decimal,
    now: dt.datetime,
) -> str:
    """An OrderCancelReplaceRequest (the client approved the changed order with both factors)."""
    assert desk.routing is not None
    actor = f"user:{order.client_id}"
    try:
        routing.request_replace(
            session,
            order=order,
            routing=desk.routing,
            quantity=quantity,
            limit_price=limit_price,
            actor=actor,
            now=now,
        )
    except routing.NotRoutableError as error:
        return f"{order.ref} was not changed: {error}."
    what = f"{amount_text(quantity)} at {decimal_text(limit_price)}"
    return REPLACE_SENT.format(ref=order.ref, venue=order.routed_to, what=what)


def routing_of(venue: FixVenue) -> routing.Routing:
    """Where the desk's orders go: the venue's providers; the dispatcher woken after commit."""
    return routing.Routing(
        providers=dict(venue.accounts), default=venue.default_provider, wake=venue.wake
    )


def receiver(desk: Desk) -> Receive:
    """The FIX venue's `receive`: apply the message to its order and tell the client."""

    def receive(
        session: Session, provider: str, fix_session: str, raw: str, now: dt.datetime
    ) -> None:
        applied = reports.receive(
            session, provider=provider, fix_session=fix_session, raw=raw, now=now
        )
        tell(session, desk, applied)

    return receive


def tell(session: Session, desk: Desk, applied: Applied) -> None:
    """Tell the client of the order what happened to it, in her chat."""
    order = applied.order
    text = None if order is None else notice(order, applied)
    if order is None or text is None:
        return
    now = desk.clock()
    message = (
        receipt_message(session, desk, order, text, now=now)
        if applied.event == lifecycle.FILLED
        else OutboundMessage(text=text)
    )
    from dealchat.conversations import desk as chat_desk  # noqa: PLC0415 - desk -> flow -> here

    chat_desk.notify(session, desk=desk, conversation_id=order.conversation_id, answer=message)


def notice(order: Order, applied: Applied) -> str | None:  # noqa: PLR0911 - one per event
    venue = order.routed_to or "the counterparty"
    event = applied.event
    if event in (lifecycle.FILLED, lifecycle.REJECTED):
        return replies.fill_text(order)
    report = applied.report
    if event == lifecycle.PARTIALLY_FILLED and report is not None:
        return PARTIAL.format(
            ref=order.ref,
            last=amount_text(report.last_qty or ZERO),
            price=decimal_text(report.last_px or ZERO),
            venue=venue,
            done=amount_text(order.fill_quantity or ZERO),
            total=amount_text(order.quantity),
            open=amount_text(order.quantity - (order.fill_quantity or ZERO)),
        )
    if event == lifecycle.NEW and (order.time_in_force or "DAY") in ("DAY", "GTC", "GTD"):
        return WORKING.format(ref=order.ref, venue=venue, what=_what(order))
    if event in (lifecycle.CANCELLED, lifecycle.EXPIRED):
        template = CANCELLED if event == lifecycle.CANCELLED else EXPIRED
        return template.format(ref=order.ref, venue=venue, done=_done(order))
    if event == "replaced":
        return REPLACED.format(ref=order.ref, venue=venue, what=_what(order))
    if event == "refused":
        why = (report.text if report is not None else None) or "no reason given"
        return REFUSED.format(venue=venue, ref=order.ref, why=why)
    if event == "held":
        return REVIEW.format(ref=order.ref, venue=venue)
    return None


def _what(order: Order) -> str:
    return describe(ticket_of(order))


def _done(order: Order) -> str:
    if not order.fill_quantity:
        return "Nothing was traded."
    return (
        f"{amount_text(order.fill_quantity)} of {amount_text(order.quantity)} had been filled "
        f"at {decimal_text(order.fill_price or ZERO)} on average; that part stands."
    )
