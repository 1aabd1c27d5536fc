"""Receipts in chat: a placed order's answer (and `status ORD-...` for a placed order) carries a
single-use link to its signed receipt, which the client can keep and verify offline."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import replies
from dealchat.conversations.context import Desk, Turn
from dealchat.orders.models import Order
from dealchat.records import receipts, reports_links
from dealchat.records.checkpoints import CheckpointKeys

LINK_PATH = "/api/v1/receipts/links/"


def with_receipt(turn: Turn, order: Order, text: str) -> list[OutboundMessage]:
    """`text`, plus the receipt line and link when the order reached the counterparty."""
    return [receipt_message(turn.session, turn.desk, order, text, now=turn.now)]


def receipt_message(
    session: Session, desk: Desk, order: Order, text: str, *, now: dt.datetime
) -> OutboundMessage:
    """One message: `text` and, once the order is placed, a single-use link to its receipt
    (also for a held order released later, told through `desk.notify`)."""
    if not receipts.was_placed(session, order.id):
        return OutboundMessage(text=text)
    ttl = desk.policy.link_ttl
    token = reports_links.issue(
        session,
        user_id=order.client_id,
        params={"order": order.id},
        ttl=ttl,
        now=now,
        actor=f"user:{order.client_id}",
        purpose="receipt",
    )
    line = replies.RECEIPT_LINE.format(minutes=int(ttl.total_seconds() // 60))
    return OutboundMessage(text=f"{text}\n{line}", link=f"{desk.public_url}{LINK_PATH}{token}")


def receipt_of(
    session: Session, order: Order, *, keys: CheckpointKeys, actor: str
) -> dict[str, object]:
    return receipts.issue(
        session,
        order_id=order.id,
        ref=order.ref,
        client_id=order.client_id,
        content_hash=order.ticket_hash,
        keys=keys,
        actor=actor,
    )
