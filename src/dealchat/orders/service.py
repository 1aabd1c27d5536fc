"""Quotes, tickets and orders: each state change audited in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from dealchat.db.driver import Loading
from dealchat.execution.interfaces import Counterparty, OrderRequest
from dealchat.nlu import Intent, Product
from dealchat.orders import settlements
from dealchat.orders.models import Order, Quote
from dealchat.orders.tickets import V2_DEFAULTS, Ticket
from dealchat.pricing.interfaces import Instrument, PriceSource
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new

AWAITING = "awaiting_confirmation"
_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_ref() -> str:
    """A client-facing order reference, `ORD-` and 8 random characters (40 bits)."""
    return "ORD-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))


def instrument_of(intent: Intent) -> Instrument:
    return Instrument(pair=intent.pair, isin=intent.isin)


def give_quote(
    session: Session,
    *,
    conversation_id: str,
    client_id: str,
    intent: Intent,
    prices: PriceSource,
    ttl: dt.timedelta,
    now: dt.datetime,
) -> Quote:
    """A new indicative price; it replaces any live one in this chat (`mine` takes the newest).
    Raises LookupError for what the price source cannot price: a swap or an NDF too."""
    if intent.product not in (None, Product.OUTRIGHT):
        raise LookupError(f"no indicative {intent.product} prices")
    price = prices.price(
        instrument_of(intent), quantity=intent.quantity, tenor=intent.tenor, trade_date=now.date()
    )
    return record_quote(
        session,
        QuoteFields(
            conversation_id=conversation_id,
            client_id=client_id,
            pair=intent.pair,
            isin=intent.isin,
            dealt_currency=intent.dealt_currency,
            quantity=intent.quantity,
            tenor=intent.tenor,
        ),
        bid=price.bid,
        ask=price.ask,
        source=price.source,
        expires_at=now + ttl,
        now=now,
    )


@dataclass(frozen=True)
class QuoteFields:
    conversation_id: str
    client_id: str
    pair: str | None
    isin: str | None
    dealt_currency: str | None
    quantity: Decimal | None
    tenor: str | None


# A new price retires every live quote in its chat (`record_quote`); built once.
_RETIRE_QUOTES = (
    update(Quote)
    .where(
        Quote.conversation_id == bindparam("conversation"),
        Quote.client_id == bindparam("client"),
        Quote.expires_at > bindparam("now"),
    )
    .values(expires_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


def record_quote(
    session: Session,
    fields: QuoteFields,
    *,
    bid: Decimal,
    ask: Decimal,
    source: str,
    expires_at: dt.datetime,
    now: dt.datetime,
    actor: str | None = None,
) -> Quote:
    """A price for the client (the source's, or a dealer's for a request for quote): it retires
    any live quote in this chat (`mine` takes the newest). Audited as quote:given."""
    retired = session.execute(
        _RETIRE_QUOTES,
        {"conversation": fields.conversation_id, "client": fields.client_id, "now": now},
    )
    quote = Quote(
        conversation_id=fields.conversation_id,
        client_id=fields.client_id,
        pair=fields.pair,
        isin=fields.isin,
        dealt_currency=fields.dealt_currency,
        quantity=fields.quantity,
        tenor=fields.tenor,
        bid=bid,
        ask=ask,
        source=source,
        created_at=now,
        expires_at=expires_at,
    )
    record_new(
        session,
        quote,
        event=AuditEvent.QUOTE_GIVEN,
        actor=actor or f"user:{fields.client_id}",
        kind="quote",
        payload={
            "instrument": fields.pair or fields.isin,
            "quantity": fields.quantity,
            "tenor": fields.tenor,
            "bid": bid,
            "ask": ask,
            "source": source,
            "expires_at": quote.expires_at,
            "retired_quotes": retired.rowcount,  # type: ignore[attr-defined]
        },
    )
    return quote


def live_quote(
    session: Session, *, conversation_id: str, client_id: str, now: dt.datetime
) -> Quote | None:
    """The one quote of this chat still valid at `now` (a new quote retires the older ones)."""
    return session.scalar(
        select(Quote)
        .where(
            Quote.conversation_id == conversation_id,
            Quote.client_id == client_id,
            Quote.expires_at > now,
        )
        .order_by(Quote.created_at.desc())
        .limit(1)
    )


def ticket_of(order: Order) -> Ticket:
    return Ticket(
        ref=order.ref,
        client_id=order.client_id,
        side=order.side,
        pair=order.pair,
        isin=order.isin,
        dealt_currency=order.dealt_currency,
        quantity=order.quantity,
        tenor=order.tenor,
        order_type=order.order_type,
        limit_price=order.limit_price,
        counterparty=order.counterparty,
        quote_id=order.quote_id,
        product=order.product or "outright",
        far_tenor=order.far_tenor,
        value_date=order.value_date,
        far_value_date=order.far_value_date,
        fixing_date=order.fixing_date,
        stop_price=order.stop_price,
        time_in_force=order.time_in_force,
        expire_date=order.expire_date,
    )


def create_ticket(
    session: Session,
    *,
    conversation_id: str,
    client_id: str,
    ticket_fields: dict[str, object],
    now: dt.datetime,
    replacing: list[Order] | None = None,
) -> Order:
    """A new ticket awaiting confirmation; an older open ticket in the chat is cancelled, replaced
    by it (audited with the new ref: `open_tickets` before this call tells the client which, and
    its answer can be handed in as `replacing`)."""
    ref = new_ref()
    if replacing is None:
        replacing = open_tickets(session, conversation_id=conversation_id, client_id=client_id)
    for old in replacing:
        _cancel(session, old, reason=f"replaced by {ref}", replaced_by=ref)
    order = Order(
        ref=ref,
        conversation_id=conversation_id,
        client_id=client_id,
        state=AWAITING,
        created_at=now,
        ticket_hash="",
        **ticket_fields,
    )
    order.ticket_hash = ticket_of(order).content_hash()
    record_new(
        session,
        order,
        event=AuditEvent.TICKET_CREATED,
        actor=f"user:{client_id}",
        kind="order",
        payload=order_payload(order),
    )
    return order


def amend_ticket(
    session: Session,
    order: Order,
    *,
    ticket_fields: dict[str, object],
    changes: dict[str, str],
    now: dt.datetime,
) -> Order:
    """Change an open ticket in place (same ref): a new ticket hash, so a step-up proof for the
    old ticket cannot confirm it, and a new confirmation window from `now`."""
    if order.state != AWAITING:
        raise ValueError(f"{order.ref} is {order.state}, not an open ticket")
    previous = order.ticket_hash
    for name, value in ticket_fields.items():
        setattr(order, name, value)
    order.amended_at = now
    order.ticket_hash = ticket_of(order).content_hash()
    record(
        session,
        event=AuditEvent.TICKET_AMENDED,
        actor=f"user:{order.client_id}",
        subject=f"order:{order.id}",
        payload={**order_payload(order), "changes": changes, "previous_hash": previous},
    )
    return order


def confirm_window_start(order: Order) -> dt.datetime:
    """When the client was last asked to confirm this ticket: created, or last amended."""
    return order.amended_at or order.created_at


def open_tickets(session: Session, *, conversation_id: str, client_id: str) -> list[Order]:
    values = {"conversation": conversation_id, "client": client_id}
    return [row[0] for row in _OPEN_TICKETS.rows(session, values)]


_ORDERS = cast(Table, Order.__table__)
_OPEN_TICKETS = Loading(  # built once (a chat's every order and confirm asks), on the driver
    select(_ORDERS)
    .where(
        _ORDERS.c.conversation_id == bindparam("conversation"),
        _ORDERS.c.client_id == bindparam("client"),
        _ORDERS.c.state == AWAITING,
    )
    .order_by(_ORDERS.c.created_at.desc()),
    Order,
)


def cancel_ticket(session: Session, order: Order) -> None:
    _cancel(session, order, reason="cancelled by the client")


def _cancel(session: Session, order: Order, *, reason: str, replaced_by: str | None = None) -> None:
    order.state = "cancelled"
    payload: dict[str, object] = {"ref": order.ref, "reason": reason}
    if replaced_by is not None:
        payload["replaced_by"] = replaced_by
    record(
        session,
        event=AuditEvent.TICKET_CANCELLED,
        actor=f"user:{order.client_id}",
        subject=f"order:{order.id}",
        payload=payload,
    )


def expire_ticket(session: Session, order: Order, *, reason: str) -> None:
    order.state = "expired"
    record(
        session,
        event=AuditEvent.TICKET_CANCELLED,
        actor="system",
        subject=f"order:{order.id}",
        payload={"ref": order.ref, "reason": reason},
    )


def place(session: Session, *, order: Order, counterparty: Counterparty, now: dt.datetime) -> Order:
    """Send a confirmed ticket to the liquidity provider and record its answer."""
    order.state, order.placed_at = "placed", now
    record(
        session,
        event=AuditEvent.ORDER_PLACED,
        actor=f"user:{order.client_id}",
        subject=f"order:{order.id}",
        payload=order_payload(order),
    )
    execution = counterparty.execute(_request(order, now))
    order.executed_by = execution.counterparty
    if execution.filled:
        order.state, order.filled_at = "filled", now
        order.fill_price, order.fill_quantity = execution.price, execution.quantity
        order.execution_id = execution.execution_id
        settlements.book(session, order=order, now=now)
        event = AuditEvent.ORDER_FILLED
    else:
        order.state, order.reject_reason = "rejected", execution.reason
        event = AuditEvent.ORDER_REJECTED
    record(
        session,
        event=event,
        actor=f"lp:{execution.counterparty}",
        subject=f"order:{order.id}",
        payload={
            "ref": order.ref,
            "price": execution.price,
            "quantity": execution.quantity,
            "execution_id": execution.execution_id,
            "reason": execution.reason,
        },
    )
    return order


def _request(order: Order, now: dt.datetime) -> OrderRequest:
    return OrderRequest(
        order_id=order.id,
        instrument=Instrument(pair=order.pair, isin=order.isin),
        side=order.side,
        quantity=order.quantity,
        dealt_currency=order.dealt_currency,
        tenor=order.tenor,
        order_type=order.order_type,
        limit_price=order.limit_price,
        counterparty=order.counterparty,
        product=order.product or "outright",
        far_tenor=order.far_tenor,
        stop_price=order.stop_price,
        time_in_force=order.time_in_force,
        trade_date=now.date(),
        value_date=None if order.value_date is None else dt.date.fromisoformat(order.value_date),
    )


def order_payload(order: Order) -> dict[str, object]:
    """What the ticket:created and order:placed entries commit to (`orders.integrity`)."""
    return {
        "ref": order.ref,
        "state": order.state,
        "side": order.side,
        "instrument": order.pair or order.isin,
        "dealt_currency": order.dealt_currency,
        "quantity": order.quantity,
        "tenor": order.tenor,
        "order_type": order.order_type,
        "limit_price": order.limit_price,
        "counterparty": order.counterparty,
        "quote_id": order.quote_id,
        "ticket_hash": order.ticket_hash,
        **{
            name: getattr(order, name)
            for name, default in V2_DEFAULTS.items()
            if getattr(order, name) != default
        },
    }


def client_orders(
    session: Session, *, client_id: str, ref: str | None, limit: int = 10, drafts: bool = True
) -> list[Order]:
    """The client's orders, newest first; without `drafts`, no cancelled or expired ticket that
    never reached the market (a ticket she replaced, cancelled or let expire)."""
    query = select(Order).where(Order.client_id == client_id, Order.state != AWAITING)
    if ref is not None:
        query = query.where(Order.ref == ref)
    if not drafts:
        query = query.where(~_DRAFT)
    return list(session.scalars(query.order_by(Order.created_at.desc()).limit(limit)))


def count_drafts(session: Session, *, client_id: str) -> int:
    """How many of the client's tickets were cancelled or expired before reaching the market."""
    query = select(func.count()).select_from(Order).where(Order.client_id == client_id, _DRAFT)
    return int(session.scalar(query) or 0)


# A ticket that ended before the client's confirmation took it anywhere: no market, no hold (an
# expired hold keeps its reason).
_DRAFT = and_(
    Order.state.in_(("cancelled", "expired")),
    Order.placed_at.is_(None),
    Order.reject_reason.is_(None),
)


def quote_price(quote: Quote, side: str) -> Decimal:
    """The price a client takes: our ask when they buy, our bid when they sell."""
    return quote.ask if side == "buy" else quote.bid
