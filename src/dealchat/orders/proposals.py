"""Changes of a working order awaiting the client's approval (amend of an order working at a FIX
counterparty): kept so the bank's step-up page shows exactly the changed order she approves,
audited as `order:change_proposed` in the transaction that keeps them."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.orders.models import ChangeProposal, Order
from dealchat.orders.service import ticket_of
from dealchat.orders.tickets import Ticket
from dealchat.records.events import AuditEvent
from dealchat.records.service import record


def changed_ticket(order: Order, proposal: ChangeProposal) -> Ticket:
    return dataclasses.replace(
        ticket_of(order), quantity=proposal.quantity, limit_price=proposal.limit_price
    )


def propose(session: Session, *, order: Order, changed: Ticket, now: dt.datetime) -> ChangeProposal:
    """Keep the change (once per changed ticket); audited with the amounts before and after."""
    content_hash = changed.content_hash()
    kept = session.scalar(
        select(ChangeProposal).where(
            ChangeProposal.order_id == order.id, ChangeProposal.ticket_hash == content_hash
        )
    )
    if kept is not None:
        return kept
    assert changed.limit_price is not None
    proposal = ChangeProposal(
        order_id=order.id,
        ticket_hash=content_hash,
        quantity=changed.quantity,
        limit_price=changed.limit_price,
        created_at=now,
    )
    session.add(proposal)
    record(
        session,
        event=AuditEvent.ORDER_CHANGE_PROPOSED,
        actor=f"user:{order.client_id}",
        subject=f"order:{order.id}",
        payload={
            "ref": order.ref,
            "ticket_hash": content_hash,
            "quantity": {"from": order.quantity, "to": changed.quantity},
            "limit_price": {"from": order.limit_price, "to": changed.limit_price},
        },
    )
    return proposal


def find(session: Session, ticket_hash: str) -> tuple[Order, ChangeProposal] | None:
    """The working order and its proposed change bound to `ticket_hash`, newest first."""
    found = session.execute(
        select(Order, ChangeProposal)
        .join(ChangeProposal, ChangeProposal.order_id == Order.id)
        .where(ChangeProposal.ticket_hash == ticket_hash)
        .order_by(ChangeProposal.created_at.desc())
        .limit(1)
    ).first()
    return None if found is None else (found[0], found[1])
