"""`amend` in chat (NLU.md v2): change the client's open ticket and read the changed ticket back
for a new confirmation, which needs a new step-up (the proof is bound to the ticket's hash).

The amended ticket is checked by the parser itself: its read-back must parse to an order with
exactly its fields, so an amend can never make a ticket the language would not take. A limit order
working at a FIX counterparty gets a new amount or limit by an OrderCancelReplaceRequest, after a
step-up bound to the changed order's hash; other placed orders cannot be amended here (the client
is told so plainly)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import executions, order_ticket
from dealchat.conversations.context import Turn
from dealchat.conversations.secure_link import secure_link
from dealchat.identity import service as identity
from dealchat.nlu import Intent, IntentKind, OrderType
from dealchat.nlu.readback import OrderWords, order_line
from dealchat.orders import lifecycle, proposals
from dealchat.orders import service as orders
from dealchat.orders.models import Order
from dealchat.orders.tickets import ticket_text

NOTHING_TO_AMEND = "There is no open ticket to amend. Send an order first, e.g. 'buy 1m eurusd'."
NOT_HERE_YET = (
    "{ref} is {state}: it can't be amended here yet. Please call your dealer to amend it, "
    "or cancel it and send a new order."
)
NOT_FOUND = "I can't find {ref} among your orders."
FROM_QUOTE = "{ref} takes the price you were quoted, so it can't be changed. Ask for a new price."
AMENDED = "Amended {ref}. {ticket}"
UNCLEAR = "I can't amend {ref} that way: {reason}"
STOP_OR_LIMIT = (
    "{ref} is a {kind} order. Say which price changes, e.g. 'change {ref2} {word} to 1.0750'."
)
WHICH_LEG = "{ref} is a swap: please cancel it and send the swap again with the new dates."
EXPIRED = "{ref} was not confirmed in time, so it was not traded. Send the order again."
REPLACEABLE_FIELDS = frozenset({"quantity", "limit_price"})
REPLACE_ONLY = (
    "{ref} is working at the counterparty: only its amount and limit price can be changed. "
    "For anything else, cancel it (cancel {ref}) and send a new order."
)
REPLACE_STEP_UP = (
    "To send this change of {ref} to the market, approve it on the bank's secure page with your "
    "password and authenticator code (single use, valid {minutes} minutes), then send the "
    "change again here."
)

Answer = list[OutboundMessage]


def answer(turn: Turn, intent: Intent) -> Answer:
    user = identity.chat_user(
        turn.session,
        channel=turn.message.channel,
        external_id=turn.message.sender_id,
        policy=turn.desk.policy,
        now=turn.now,
    )
    if user is None:
        return _say(NOTHING_TO_AMEND)
    tickets = orders.open_tickets(
        turn.session, conversation_id=turn.conversation.id, client_id=user.id
    )
    if intent.order_ref is not None:
        tickets = [t for t in tickets if t.ref == intent.order_ref]
        if not tickets:
            placed = orders.client_orders(
                turn.session, client_id=user.id, ref=intent.order_ref, limit=1
            )
            if not placed:
                return _say(NOT_FOUND.format(ref=intent.order_ref))
            working = _replace(turn, placed[0], intent.changes_dict)
            if working is not None:
                return working
            return _say(NOT_HERE_YET.format(ref=placed[0].ref, state=placed[0].state))
    if not tickets:
        return _say(NOTHING_TO_AMEND)
    return _amend(turn, tickets[0], intent.changes_dict)


def _amend(turn: Turn, order: Order, changes: dict[str, str]) -> Answer:
    if turn.now - orders.confirm_window_start(order) > turn.desk.ticket_ttl:
        orders.expire_ticket(turn.session, order, reason="not confirmed in time")
        return _say(EXPIRED.format(ref=order.ref))
    if order.quote_id is not None:
        return _say(FROM_QUOTE.format(ref=order.ref))
    words = _changed(order, changes)
    if isinstance(words, str):
        return _say(words)
    checked = turn.desk.parser.parse(order_line(words), turn.now.date())
    if checked.intent is not IntentKind.ORDER:
        return _say(UNCLEAR.format(ref=order.ref, reason=checked.reason))
    fields = order_ticket.fields_from_intent(checked, turn.now.date())
    if isinstance(fields, str):
        return _say(UNCLEAR.format(ref=order.ref, reason=fields))
    fields.pop("quote_id", None)
    orders.amend_ticket(turn.session, order, ticket_fields=fields, changes=changes, now=turn.now)
    ticket = ticket_text(orders.ticket_of(order))
    return _say(AMENDED.format(ref=order.ref, ticket=ticket))


def _changed(order: Order, changes: dict[str, str]) -> OrderWords | str:
    """The ticket's words with the changes applied, or why they do not apply to this ticket."""
    words = orders.ticket_of(order).words
    stop = order.order_type == OrderType.STOP.value
    if "limit_price" in changes and stop:
        return STOP_OR_LIMIT.format(ref=order.ref, ref2=order.ref, kind="stop", word="stop")
    if "stop_price" in changes and order.order_type == OrderType.LIMIT.value:
        return STOP_OR_LIMIT.format(ref=order.ref, ref2=order.ref, kind="limit", word="price")
    if "tenor" in changes and order.product == "swap":
        return WHICH_LEG.format(ref=order.ref)
    update: dict[str, object] = {}
    if "quantity" in changes:
        update["quantity"] = Decimal(changes["quantity"])
    if "limit_price" in changes:
        update |= {"limit_price": Decimal(changes["limit_price"]), "order_type": "limit"}
    if "stop_price" in changes:
        update |= {"stop_price": Decimal(changes["stop_price"]), "order_type": "stop"}
    if changes.get("order_type") == "market":
        update |= {"order_type": "market", "limit_price": None, "stop_price": None}
    for name in ("tenor", "counterparty", "time_in_force", "expire_date"):
        if name in changes:
            update[name] = changes[name]
    if "time_in_force" in changes and "expire_date" not in changes:
        update["expire_date"] = None
    return dataclasses.replace(words, **update)  # type: ignore[arg-type]


def _replace(turn: Turn, order: Order, changes: dict[str, str]) -> Answer | None:
    """A working limit order at a FIX counterparty: a new amount and/or limit becomes an
    OrderCancelReplaceRequest, once the client approves exactly the changed order with both
    factors (a proof bound to its hash, as for a confirmation). None: not changeable here."""
    if turn.desk.routing is None or order.state not in lifecycle.REPLACEABLE:
        return None
    if order.order_type != OrderType.LIMIT.value or set(changes) - REPLACEABLE_FIELDS:
        return _say(REPLACE_ONLY.format(ref=order.ref))
    words = _changed(order, changes)
    if isinstance(words, str):
        return _say(words)
    checked = turn.desk.parser.parse(order_line(words), turn.now.date())
    if checked.intent is not IntentKind.ORDER or words.limit_price is None:
        return _say(UNCLEAR.format(ref=order.ref, reason=checked.reason))
    changed = dataclasses.replace(
        orders.ticket_of(order), quantity=words.quantity, limit_price=words.limit_price
    )
    proven = identity.use_stepup(
        turn.session,
        channel=turn.message.channel,
        external_id=turn.message.sender_id,
        user_id=order.client_id,
        ticket_hash=changed.content_hash(),
        now=turn.now,
    )
    if not proven:
        proposals.propose(turn.session, order=order, changed=changed, now=turn.now)
        return secure_link(
            turn, REPLACE_STEP_UP, purpose="stepup", ticket_hash=changed.content_hash(),
            ref=order.ref,
        )  # fmt: skip
    text = executions.replace(
        turn.session,
        desk=turn.desk,
        order=order,
        quantity=words.quantity,
        limit_price=words.limit_price,
        now=turn.now,
    )
    return _say(text)


def _say(text: str) -> Answer:
    return [OutboundMessage(text=text)]
