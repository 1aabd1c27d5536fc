"""Orders to a FIX counterparty: new, cancel and cancel/replace instructions through the outbox.

Each instruction is written to `fix_outbound` with its ClOrdID in the caller's transaction, the
order moves on its lifecycle (orders.lifecycle) and both are audited; the dispatcher
(execution.fix.runtime) sends it once the transaction commits. A ClOrdID is never sent twice: it is
unique in the outbox, and a row found half-sent after a crash is looked up in the engine's message
store before anything is sent again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dealchat.db.session import after_commit
from dealchat.execution.fix.messages import (
    CANCEL,
    NEW_ORDER,
    REPLACE,
    Instruction,
    instruction_fields,
)
from dealchat.execution.models import FixOutbound
from dealchat.orders import lifecycle
from dealchat.orders.models import Order
from dealchat.orders.service import order_payload
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

ROUTABLE_PRODUCTS = frozenset({"outright"})


class NotRoutableError(ValueError):
    """An order this venue cannot take (a product or counterparty it has no session for)."""


@dataclass(frozen=True)
class Routing:
    """The FIX providers orders can go to, and how to wake the dispatcher after commit."""

    providers: dict[str, str | None]  # name -> account (tag 1), None for none
    default: str
    wake: Callable[[], None] = field(default=lambda: None)

    def provider_for(self, order: Order) -> str:
        wanted = order.counterparty or self.default
        if wanted not in self.providers:
            raise NotRoutableError(f"no FIX session with {wanted}")
        if (order.product or "outright") not in ROUTABLE_PRODUCTS:
            raise NotRoutableError(f"a {order.product} is not sent over FIX here yet")
        return wanted


def submit(session: Session, *, order: Order, routing: Routing, now: dt.datetime) -> FixOutbound:
    """Queue the NewOrderSingle of a confirmed order (ClOrdID = its ref); pending new."""
    provider = routing.provider_for(order)
    order.state = lifecycle.PENDING_NEW
    order.placed_at, order.routed_to, order.clordid = now, provider, order.ref
    row = _queue(session, order, NEW_ORDER, order.ref, None, now=now)
    record(
        session,
        event=AuditEvent.ORDER_PLACED,
        actor=f"user:{order.client_id}",
        subject=f"order:{order.id}",
        payload=order_payload(order),  # as orders.integrity checks it; the venue in order:sent
    )
    after_commit(session, routing.wake)
    return row


def request_cancel(
    session: Session, *, order: Order, routing: Routing, actor: str, now: dt.datetime
) -> FixOutbound:
    """An OrderCancelRequest for a working order; it stays working until the provider answers."""
    if order.state not in lifecycle.CANCELLABLE or order.clordid is None:
        raise lifecycle.IllegalTransitionError(order.state, lifecycle.PENDING_CANCEL)
    row = _queue(session, order, CANCEL, _next_clordid(session, order, "C"), order.clordid, now=now)
    order.state = lifecycle.check_move(order.state, lifecycle.PENDING_CANCEL)
    _audit(session, order, AuditEvent.ORDER_CANCEL_REQUESTED, actor, row)
    after_commit(session, routing.wake)
    return row


def request_replace(
    session: Session,
    *,
    order: Order,
    routing: Routing,
    quantity: Decimal,
    limit_price: Decimal | None,
    actor: str,
    now: dt.datetime,
) -> FixOutbound:
    """An OrderCancelReplaceRequest: new quantity and/or limit; applied when the provider says
    Replaced (ExecType 5), the order unchanged if it refuses."""
    if order.state not in lifecycle.REPLACEABLE or order.clordid is None:
        raise lifecycle.IllegalTransitionError(order.state, lifecycle.PENDING_REPLACE)
    if quantity <= (order.fill_quantity or 0):
        raise NotRoutableError("the new amount is not above what is already filled")
    clordid = _next_clordid(session, order, "R")
    row = _queue(session, order, REPLACE, clordid, order.clordid, now=now)
    row.quantity, row.limit_price = quantity, limit_price
    order.state = lifecycle.check_move(order.state, lifecycle.PENDING_REPLACE)
    _audit(session, order, AuditEvent.ORDER_REPLACE_REQUESTED, actor, row)
    after_commit(session, routing.wake)
    return row


def _queue(
    session: Session,
    order: Order,
    msg_type: str,
    clordid: str,
    orig: str | None,
    *,
    now: dt.datetime,
) -> FixOutbound:
    assert order.routed_to is not None
    row = FixOutbound(
        clordid=clordid,
        orig_clordid=orig,
        order_id=order.id,
        provider=order.routed_to,
        msg_type=msg_type,
        quantity=order.quantity,
        limit_price=order.limit_price,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _next_clordid(session: Session, order: Order, kind: str) -> str:
    count = session.scalar(
        select(func.count()).select_from(FixOutbound).where(FixOutbound.order_id == order.id)
    )
    return f"{order.ref}.{kind}{count or 0}"


def _audit(session: Session, order: Order, event: AuditEvent, actor: str, row: FixOutbound) -> None:
    record(
        session,
        event=event,
        actor=actor,
        subject=f"order:{order.id}",
        payload={
            "ref": order.ref,
            "clordid": row.clordid,
            "orig_clordid": row.orig_clordid,
            "quantity": row.quantity,
            "limit_price": row.limit_price,
            "venue": row.provider,
        },
    )


def build(
    session: Session, row: FixOutbound, account: str | None, now: dt.datetime
) -> list[tuple[int, str]]:
    """The FIX fields of an outbox row (the FIX venue's `build`)."""
    order = session.get(Order, row.order_id)
    assert order is not None
    return instruction_fields(instruction(order, row, account), now)


def instruction(order: Order, row: FixOutbound, account: str | None) -> Instruction:
    """The message an outbox row stands for (a replace carries its new amount and limit)."""
    return Instruction(
        msg_type=row.msg_type,
        clordid=row.clordid,
        orig_clordid=row.orig_clordid,
        side=order.side,
        pair=order.pair,
        isin=order.isin,
        dealt_currency=order.dealt_currency,
        quantity=row.quantity,
        order_type=order.order_type if row.limit_price is None else "limit",
        limit_price=row.limit_price,
        stop_price=order.stop_price,
        time_in_force=order.time_in_force,
        expire_date=order.expire_date,
        value_date=order.value_date,
        spot=(order.tenor or "SPOT").upper() == "SPOT",
        account=account,
        lp_order_id=order.lp_order_id,
    )
