"""Requests for quote: opened for the client, priced or declined by a dealer, taken or expired.
Each change is audited on `rfq:<id>` in the caller's transaction (events rfq:requested,
rfq:priced, rfq:declined, rfq:expired, rfq:taken). What the client is told is the chat's job
(conversations.rfq)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dealchat.errors import DealchatError, ErrorCode
from dealchat.pricing.dealer import DealerReason, QuoteAsk
from dealchat.pricing.rfq_models import (
    DECLINED,
    EXPIRED,
    OPEN_STATES,
    PRICED,
    REQUESTED,
    TAKEN,
    Rfq,
)
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

MIN_VALIDITY, MAX_VALIDITY = 5, 3600
NOT_PRICED_IN_TIME = "not priced in time"
PRICE_EXPIRED = "price expired"
REPLACED = "replaced by a newer request"


@dataclass(frozen=True)
class Request:
    conversation_id: str
    client_id: str
    side: str | None  # the client's: buy, sell, or None for a two-way price
    ask: QuoteAsk
    tenor: str | None
    reason: DealerReason
    language: str | None


def _subject(rfq: Rfq) -> str:
    return f"rfq:{rfq.id}"


def _payload(rfq: Rfq) -> dict[str, object]:
    return {"ref": rfq.ref, "state": rfq.state}


def open_request(
    session: Session, request: Request, *, wait: dt.timedelta, now: dt.datetime
) -> tuple[Rfq, list[Rfq]]:
    """A new request waiting for a dealer; an open request of the same client in the same chat
    is expired as replaced (returned second, so the chat can say so)."""
    replaced = []
    for old in _open_in_chat(session, request.conversation_id, request.client_id):
        _expire(session, old, why=REPLACED, now=now)
        replaced.append(old)
    rfq = Rfq(
        conversation_id=request.conversation_id,
        client_id=request.client_id,
        side=request.side,
        pair=request.ask.pair,
        isin=request.ask.isin,
        dealt_currency=request.ask.dealt_currency,
        quantity=request.ask.quantity,
        tenor=request.tenor,
        reason=request.reason.value,
        language=request.language,
        state=REQUESTED,
        requested_at=now,
        expires_at=now + wait,
    )
    _insert_with_ref(session, rfq)
    record(
        session,
        event=AuditEvent.RFQ_REQUESTED,
        actor=f"user:{rfq.client_id}",
        subject=_subject(rfq),
        payload={
            **_payload(rfq),
            "conversation": rfq.conversation_id,
            "client": rfq.client_id,
            "side": rfq.side,
            "instrument": rfq.pair or rfq.isin,
            "dealt_currency": rfq.dealt_currency,
            "quantity": rfq.quantity,
            "tenor": rfq.tenor,
            "reason": rfq.reason,
            "expires_at": rfq.expires_at,
        },
    )
    return rfq, replaced


def _insert_with_ref(session: Session, rfq: Rfq) -> None:
    """`RFQ-<n>`, the next number; two requests racing for one number: the second tries again."""
    for _attempt in range(5):
        count = session.scalar(select(func.count()).select_from(Rfq)) or 0
        rfq.ref = f"RFQ-{count + 1}"
        try:
            with session.begin_nested():
                session.add(rfq)
            return
        except IntegrityError:
            continue
    raise DealchatError(
        ErrorCode.CONFLICT, "could not number the request; try again", http_status=409
    )


def _open_in_chat(session: Session, conversation_id: str, client_id: str) -> list[Rfq]:
    return list(
        session.scalars(
            select(Rfq).where(
                Rfq.conversation_id == conversation_id,
                Rfq.client_id == client_id,
                Rfq.state.in_(OPEN_STATES),
            )
        )
    )


def find(session: Session, rfq_id: str, *, lock: bool = False) -> Rfq:
    """By id or `RFQ-<n>`; locked for update when `lock` (a dealer acting on it)."""
    query = select(Rfq).where((Rfq.id == rfq_id) | (Rfq.ref == rfq_id.upper()))
    found = session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise DealchatError(ErrorCode.NOT_FOUND, f"no request {rfq_id}", http_status=404)
    return found


def latest_in_chat(session: Session, *, conversation_id: str, client_id: str) -> Rfq | None:
    return session.scalar(
        select(Rfq)
        .where(Rfq.conversation_id == conversation_id, Rfq.client_id == client_id)
        .order_by(Rfq.requested_at.desc(), Rfq.ref.desc())
        .limit(1)
    )


def for_quote(session: Session, quote_id: str) -> Rfq | None:
    return session.scalar(select(Rfq).where(Rfq.quote_id == quote_id))


def open_requests(session: Session) -> list[Rfq]:
    """Requested or priced, soonest expiring first."""
    return list(
        session.scalars(
            select(Rfq).where(Rfq.state.in_(OPEN_STATES)).order_by(Rfq.expires_at, Rfq.ref)
        )
    )


def recent_closed(session: Session, *, limit: int = 20) -> list[Rfq]:
    return list(
        session.scalars(
            select(Rfq)
            .where(Rfq.state.not_in(OPEN_STATES))
            .order_by(Rfq.closed_at.desc(), Rfq.ref.desc())
            .limit(limit)
        )
    )


def parse_price(text: str | None, name: str) -> Decimal | None:
    """A dealer's typed price: empty is None; else a finite Decimal > 0, or a 400 naming it."""
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise _bad(f"{name}: not a number") from None
    if not value.is_finite() or value <= 0:
        raise _bad(f"{name}: a price above 0")
    if value.as_tuple().exponent < -10 or value >= Decimal(10) ** 17:  # type: ignore[operator]
        raise _bad(f"{name}: at most 10 decimals and 17 digits")
    return value


def _bad(message: str) -> DealchatError:
    return DealchatError(ErrorCode.BAD_REQUEST, message, http_status=400)


def conflict(rfq: Rfq) -> DealchatError:
    return DealchatError(
        ErrorCode.CONFLICT,
        f"{rfq.ref} is {rfq.state}, not waiting for a price",
        http_status=409,
        data={"state": rfq.state},
    )


def check_price(
    rfq: Rfq, *, bid: Decimal | None, ask: Decimal | None, validity_seconds: int
) -> tuple[Decimal | None, Decimal | None]:
    """The sides the request needs, and only those: the ask for a client who buys, the bid for
    one who sells, both (bid at or below ask) for a two-way price; validity 5..3600 seconds."""
    if not MIN_VALIDITY <= validity_seconds <= MAX_VALIDITY:
        raise _bad(f"validity: {MIN_VALIDITY} to {MAX_VALIDITY} seconds")
    wanted = {"buy": ("ask",), "sell": ("bid",)}.get(rfq.side or "", ("bid", "ask"))
    given = {"bid": bid, "ask": ask}
    for name in wanted:
        if given[name] is None:
            raise _bad(f"{name}: a price above 0 is needed for {rfq.ref}")
    if bid is not None and ask is not None and "bid" in wanted and "ask" in wanted and bid > ask:
        raise _bad("bid: at or below the ask")
    return (bid if "bid" in wanted else None), (ask if "ask" in wanted else None)


def mark_priced(
    session: Session,
    rfq: Rfq,
    *,
    dealer_id: str,
    actor: str,
    bid: Decimal | None,
    ask: Decimal | None,
    validity_seconds: int,
    quote_id: str,
    now: dt.datetime,
) -> Rfq:
    if rfq.state != REQUESTED or rfq.expires_at <= now:
        raise conflict(rfq)
    rfq.state, rfq.bid, rfq.ask = PRICED, bid, ask
    rfq.validity_seconds, rfq.priced_at, rfq.dealer_id = validity_seconds, now, dealer_id
    rfq.expires_at, rfq.quote_id = now + dt.timedelta(seconds=validity_seconds), quote_id
    record(
        session,
        event=AuditEvent.RFQ_PRICED,
        actor=actor,
        subject=_subject(rfq),
        payload={
            **_payload(rfq),
            "bid": bid,
            "ask": ask,
            "validity_seconds": validity_seconds,
            "valid_until": rfq.expires_at,
            "dealer": dealer_id,
            "quote": quote_id,
        },
    )
    return rfq


def decline(
    session: Session, rfq: Rfq, *, dealer_id: str, actor: str, reason: str, now: dt.datetime
) -> Rfq:
    reason = " ".join(reason.split())
    if not 1 <= len(reason) <= 500:
        raise _bad("reason: 1 to 500 characters")
    if rfq.state != REQUESTED or rfq.expires_at <= now:
        raise conflict(rfq)
    rfq.state, rfq.dealer_id, rfq.outcome, rfq.closed_at = DECLINED, dealer_id, reason, now
    record(
        session,
        event=AuditEvent.RFQ_DECLINED,
        actor=actor,
        subject=_subject(rfq),
        payload={**_payload(rfq), "dealer": dealer_id, "reason": reason},
    )
    return rfq


def take(session: Session, rfq: Rfq, *, order_id: str, now: dt.datetime) -> Rfq:
    """The client took the dealer's price: her ticket (`order_id`) is at that price."""
    if rfq.state != PRICED:
        raise conflict(rfq)
    rfq.state, rfq.closed_at = TAKEN, now
    record(
        session,
        event=AuditEvent.RFQ_TAKEN,
        actor=f"user:{rfq.client_id}",
        subject=_subject(rfq),
        payload={**_payload(rfq), "order": order_id},
    )
    return rfq


def expire_due(
    session: Session, *, now: dt.datetime, conversation_id: str | None = None
) -> list[Rfq]:
    """Expire what is past its time: a request no dealer priced within the wait, a price past
    its validity. Returns them (each with its `outcome`), soonest first."""
    query = select(Rfq).where(Rfq.state.in_(OPEN_STATES), Rfq.expires_at <= now)
    if conversation_id is not None:
        query = query.where(Rfq.conversation_id == conversation_id)
    due = list(session.scalars(query.order_by(Rfq.expires_at).with_for_update(skip_locked=True)))
    for rfq in due:
        _expire(
            session,
            rfq,
            why=NOT_PRICED_IN_TIME if rfq.state == REQUESTED else PRICE_EXPIRED,
            now=now,
        )
    return due


def _expire(session: Session, rfq: Rfq, *, why: str, now: dt.datetime) -> None:
    was = rfq.state
    rfq.state, rfq.outcome, rfq.closed_at = EXPIRED, why, now
    record(
        session,
        event=AuditEvent.RFQ_EXPIRED,
        actor="system:rfq",
        subject=_subject(rfq),
        payload={**_payload(rfq), "was": was, "reason": why},
    )


__all__ = ["DECLINED", "EXPIRED", "PRICED", "REQUESTED", "TAKEN", "Request", "Rfq"]
