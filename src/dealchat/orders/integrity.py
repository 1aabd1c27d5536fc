"""An order row checked against its audit entries (`dealchat audit verify --deep`).

The log commits to what an order is: its ticket's fields in `ticket:created` (then in each
`ticket:amended`, which supersedes the entry before it) and `order:placed` (and the ticket hash,
which is recomputed from the fields) and its fill in `order:filled`. A row
whose fields, ticket hash or fill differ from what its entries say was changed after the fact.
"""

from __future__ import annotations

import json
from typing import Any

from dealchat.orders.models import Order
from dealchat.orders.service import order_payload, ticket_of
from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent

TICKET_EVENTS = frozenset(
    {
        AuditEvent.TICKET_CREATED.value,
        AuditEvent.TICKET_AMENDED.value,
        AuditEvent.ORDER_PLACED.value,
        AuditEvent.ORDER_REPLACED.value,
    }
)
# The entries a later change supersedes: the order as it was before an amend in chat
# (`ticket:amended`) or a cancel/replace the counterparty confirmed (`order:replaced`).
AMENDABLE_EVENTS = frozenset(
    {
        AuditEvent.TICKET_CREATED.value,
        AuditEvent.TICKET_AMENDED.value,
        AuditEvent.ORDER_PLACED.value,
        AuditEvent.ORDER_REPLACED.value,
    }
)
SUPERSEDING_EVENTS = (AuditEvent.TICKET_AMENDED.value, AuditEvent.ORDER_REPLACED.value)
# what an amend or a replace says beside the ticket's fields
_AMEND_ONLY = frozenset({"state", "changes", "previous_hash", "fix_message"})
FILL_EVENT = AuditEvent.ORDER_FILLED.value
ORDER_EVENTS = TICKET_EVENTS | {FILL_EVENT}


def _plain(value: Any) -> Any:
    """A value as the log holds it (canonical JSON: decimals as normalised text)."""
    return json.loads(canonical_json(value))


def ticket_problem(order: Order, payload: dict[str, Any]) -> str | None:
    """What differs between the row and a ticket:created / order:placed entry, if anything."""
    stored = _plain(order_payload(order))
    differing = sorted(
        name
        for name, value in payload.items()
        if name not in _AMEND_ONLY and stored.get(name) != value
    )
    if differing:
        return f"its {', '.join(differing)} differ from its audit entry"
    if ticket_of(order).content_hash() != order.ticket_hash:
        return "its fields no longer hash to its ticket hash"
    return None


def fill_problem(order: Order, payload: dict[str, Any]) -> str | None:
    """What differs between the row and its order:filled entry, if anything."""
    stored = _plain({
        "price": order.fill_price, "quantity": order.fill_quantity,
        "execution_id": order.execution_id,
    })  # fmt: skip
    differing = sorted(name for name, value in stored.items() if payload.get(name) != value)
    if order.state != "filled":
        differing.append("state")
    if differing:
        return f"its fill ({', '.join(differing)}) differs from its order:filled entry"
    return None


# A row may hold part-fills (order:partially_filled entries) without being filled
PART_FILLED_STATES = frozenset(
    {"partially_filled", "pending_cancel", "pending_replace", "cancelled", "expired", "exec_review"}
)


def unfilled_problem(order: Order) -> str | None:
    """A row that says it was filled, with no order:filled entry behind it."""
    if order.state == "filled" or (
        order.fill_quantity is not None and order.state not in PART_FILLED_STATES
    ):
        return "it says it was filled but no order:filled entry says so"
    return None
