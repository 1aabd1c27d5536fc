"""The desk's requests for quote (/console/rfqs, quote:price): open requests soonest-expiring
first (the list refreshes itself), each with a page where a dealer types a price and its
validity or declines with a reason (CSRF-checked forms). Expired requests are swept, and their
clients told, whenever the list is read (and by `dealchat serve`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require, require_form
from dealchat.console.acted import acted
from dealchat.console.pages import csrf_for, render
from dealchat.conversations import rfq as chat_rfq
from dealchat.conversations.models import Conversation
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.pricing import rfq as rfqs
from dealchat.pricing.rfq_models import REQUESTED, Rfq
from dealchat.records.chain import decimal_text

router = APIRouter(prefix="/console/rfqs", include_in_schema=False)


def client_resource(request: Request, db: Session) -> Mapping[str, str]:
    """What a request's routes decide on: its client's attributes (desk, region, book). An
    unknown request has none: refused to a conditioned grant, a 404 after the right is checked."""
    try:
        rfq = rfqs.find(db, request.path_params["rfq_id"][:32])
    except DealchatError:
        return {}
    client = db.get(User, rfq.client_id)
    return client.attributes() if client is not None else {}


Lister = Annotated[Actor, Depends(require(Right.QUOTE_PRICE, listing=True))]
Reader = Annotated[Actor, Depends(require(Right.QUOTE_PRICE, resource=client_resource))]
Dealer = Annotated[Actor, Depends(require_form(Right.QUOTE_PRICE, resource=client_resource))]
REFRESH_SECONDS = 5
_REASONS = {
    "bond": "bond",
    "listed": "priced by a dealer",
    "size": "size above the bot's limit",
    "no_price_source": "no price source",
}


def _users(db: SessionDep, rows: list[Rfq]) -> dict[str, User]:
    ids = {row.client_id for row in rows} | {row.dealer_id for row in rows if row.dealer_id}
    if not ids:
        return {}
    return {user.id: user for user in db.scalars(select(User).where(User.id.in_(ids)))}


def _names(db: SessionDep, rows: list[Rfq]) -> dict[str, str]:
    return {user_id: user.username for user_id, user in _users(db, rows).items()}


def _mine(actor: Actor, rows: list[Rfq], users: dict[str, User]) -> list[Rfq]:
    """The requests of the clients the actor may price for (a grant `--where desk=...`)."""
    return [
        row
        for row in rows
        if row.client_id in users
        and can(actor, Right.QUOTE_PRICE, users[row.client_id].attributes())
    ]


def _row(db: SessionDep, rfq: Rfq, names: dict[str, str], now: dt.datetime) -> dict[str, Any]:
    conversation = db.get(Conversation, rfq.conversation_id)
    return {
        "id": rfq.id,
        "ref": rfq.ref,
        "client": names.get(rfq.client_id, rfq.client_id),
        "channel": conversation.channel if conversation is not None else "",
        "side": {"buy": "client buys", "sell": "client sells"}.get(rfq.side or "", "two-way"),
        "one_side": rfq.side,
        "request": chat_rfq.describe(rfq),
        "reason": _REASONS.get(rfq.reason, rfq.reason),
        "state": rfq.state,
        "requested_at": f"{rfq.requested_at:%H:%M:%S}",
        "expires_at": f"{rfq.expires_at:%H:%M:%S}",
        "seconds_left": max(0, int((rfq.expires_at - now).total_seconds())),
        "bid": "" if rfq.bid is None else decimal_text(rfq.bid),
        "ask": "" if rfq.ask is None else decimal_text(rfq.ask),
        "dealer": names.get(rfq.dealer_id or "", ""),
        "outcome": rfq.outcome or "",
        "open": rfq.state == REQUESTED and rfq.expires_at > now,
    }


@router.get("")
def page(request: Request, db: SessionDep, platform: PlatformDep, actor: Lister) -> Response:
    now = platform.desk.clock()
    chat_rfq.sweep(db, desk=platform.desk, now=now)  # on read: the lapsed ones, clients told
    found, closed = rfqs.open_requests(db), rfqs.recent_closed(db)
    users = _users(db, [*found, *closed])
    found, closed = _mine(actor, found, users), _mine(actor, closed, users)
    names = {user_id: user.username for user_id, user in users.items()}
    return render(
        "rfqs.html",
        actor=actor,
        csrf=csrf_for(request),
        rfqs=[_row(db, row, names, now) for row in found],
        closed=[_row(db, row, names, now) for row in closed],
        refresh=REFRESH_SECONDS,
    )


def _detail(
    request: Request,
    db: SessionDep,
    actor: Actor,
    rfq_id: str,
    now: dt.datetime,
    *,
    notice: str = "",
    status: int = 200,
) -> Response:
    rfq = rfqs.find(db, rfq_id[:32])
    names = _names(db, [rfq])
    return render(
        "rfq.html",
        actor=actor,
        csrf=csrf_for(request),
        status=status,
        rfq=_row(db, rfq, names, now),
        notice=notice,
        min_validity=rfqs.MIN_VALIDITY,
        max_validity=rfqs.MAX_VALIDITY,
    )


@router.get("/{rfq_id}")
def detail(
    rfq_id: str, request: Request, db: SessionDep, platform: PlatformDep, actor: Reader
) -> Response:
    return _detail(request, db, actor, rfq_id, platform.desk.clock())


def _acted(
    action: Callable[[], object],
    request: Request,
    *,
    db: SessionDep,
    actor: Actor,
    rfq_id: str,
    now: dt.datetime,
) -> Response:
    """Back to the list, or the request's page saying why (a 404 stays a 404)."""
    return acted(
        action,
        db,
        done="/console/rfqs",
        refused=lambda error: _detail(
            request, db, actor, rfq_id, now, notice=error.message, status=error.http_status
        ),
    )


def _validity(text: str) -> int:
    if not text.strip().isdigit():
        raise DealchatError(
            ErrorCode.BAD_REQUEST,
            f"validity: whole seconds, {rfqs.MIN_VALIDITY} to {rfqs.MAX_VALIDITY}",
        )
    return int(text.strip())


@router.post("/{rfq_id}/price")
def price(
    *,
    rfq_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Dealer,
    validity: Annotated[str, Form(max_length=8)] = "",
    bid: Annotated[str, Form(max_length=40)] = "",
    ask: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    now = platform.desk.clock()

    def act() -> object:
        return chat_rfq.price(
            db,
            desk=platform.desk,
            rfq_id=rfq_id[:32],
            actor=actor,
            bid=rfqs.parse_price(bid, "bid"),
            ask=rfqs.parse_price(ask, "ask"),
            validity_seconds=_validity(validity),
            now=now,
        )

    return _acted(act, request, db=db, actor=actor, rfq_id=rfq_id, now=now)


@router.post("/{rfq_id}/decline")
def decline(
    *,
    rfq_id: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Dealer,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    now = platform.desk.clock()
    return _acted(
        lambda: chat_rfq.decline(
            db, desk=platform.desk, rfq_id=rfq_id[:32], actor=actor, reason=reason, now=now
        ),
        request,
        db=db,
        actor=actor,
        rfq_id=rfq_id,
        now=now,
    )
