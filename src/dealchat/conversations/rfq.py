"""Dealer-priced requests in the chat. A quote the bot may not price itself (pricing.dealer: a
bond, a listed instrument, a size above the setting, a pair without a price source) becomes a
request for quote on the desk (pricing.rfq) and the client is told so plainly; a dealer's price
reaches her chat through the outbox (desk.notify) as a quote she takes with mine/yours, which
gives the usual ticket and step-up; a decline, a request no dealer priced in time and a price
past its validity are each answered plainly."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import desk as chat_desk  # desk -> flow -> here: used at call time
from dealchat.conversations import i18n
from dealchat.conversations.context import Desk, Turn
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.nlu import Intent, Product
from dealchat.nlu.language import language_of
from dealchat.orders import service as orders
from dealchat.orders.models import Order, Quote
from dealchat.orders.tickets import amount_text
from dealchat.pricing import rfq as rfqs
from dealchat.pricing.dealer import QuoteAsk, dealer_reason
from dealchat.pricing.interfaces import Instrument
from dealchat.pricing.rfq_models import DECLINED, EXPIRED, PRICED, REQUESTED, Rfq
from dealchat.records.chain import decimal_text

log = logging.getLogger("dealchat.desk")

REQUESTED_TEXT = (
    "A dealer is pricing this ({ref}): {request}. I will send the price here; "
    "if none has come by {until} UTC I will tell you."
)
REPLACED_TEXT = "{ref} is withdrawn: your new request replaces it."
PRICED_TEXT = (
    "{ref} {request}: {bid} / {ask} from our dealer, valid {seconds}s until {until} UTC. "
    "Reply mine to buy at {ask} or yours to sell at {bid}."
)
PRICED_BUY = (
    "{ref} {request}: {ask} from our dealer for you to buy, valid {seconds}s until {until} UTC. "
    "Reply mine to buy at {ask}."
)
PRICED_SELL = (
    "{ref} {request}: {bid} from our dealer for you to sell, valid {seconds}s until {until} UTC. "
    "Reply yours to sell at {bid}."
)
DECLINED_TEXT = "{ref}: our dealer declined to price {request}: {reason}. Nothing was traded."
NOT_PRICED = (
    "{ref}: no dealer priced {request} in time, so there is no price to take. "
    "Ask again, or call your dealer."
)
PRICE_EXPIRED = (
    "{ref}: our dealer's price for {request} expired at {until} UTC and can no longer be taken. "
    "Ask for a new price."
)
STILL_PRICING = "{ref} is still with a dealer: there is no price to take yet. It will come here."
ONLY_BUY = "Our dealer priced {ref} for you to buy only. Ask for a new price to sell."
ONLY_SELL = "Our dealer priced {ref} for you to sell only. Ask for a new price to buy."


def route(turn: Turn, client_id: str, intent: Intent) -> list[OutboundMessage] | None:
    """A request for quote when a dealer must price this quote; None when the bot may."""
    if intent.product not in (None, Product.OUTRIGHT):
        return None  # swaps and NDFs: the bot says plainly it cannot price them here
    ask = QuoteAsk(intent.pair, intent.isin, intent.dealt_currency, intent.quantity)
    reason = dealer_reason(turn.desk.dealer, ask, mid=_mid(turn.desk, intent))
    if reason is None:
        return None
    request = rfqs.Request(
        conversation_id=turn.conversation.id,
        client_id=client_id,
        side=None if intent.side is None else intent.side.value,
        ask=ask,
        tenor=intent.tenor,
        reason=reason,
        language=language_of(turn.message.text),
    )
    rfq, replaced = rfqs.open_request(turn.session, request, wait=turn.desk.rfq_wait, now=turn.now)
    answers = [OutboundMessage(REPLACED_TEXT.format(ref=old.ref)) for old in replaced]
    text = REQUESTED_TEXT.format(ref=rfq.ref, request=describe(rfq), until=_time(rfq.expires_at))
    return [*answers, OutboundMessage(text)]


def _mid(desk: Desk, intent: Intent) -> Decimal | None:
    try:
        price = desk.prices.price(
            Instrument(pair=intent.pair, isin=intent.isin),
            quantity=intent.quantity,
            tenor=intent.tenor,
            trade_date=desk.clock().date(),
        )
    except LookupError:
        return None
    return (price.bid + price.ask) / 2


def describe(rfq: Rfq) -> str:
    """`EUR/USD 100,000,000 EUR SPOT`, as a quote's head reads."""
    size = ""
    if rfq.quantity is not None:
        size = f" {amount_text(rfq.quantity)} {rfq.dealt_currency or ''}".rstrip()
    tenor = f" {rfq.tenor}" if rfq.tenor else ""
    return f"{rfq.pair or rfq.isin}{size}{tenor}"


def _time(at: dt.datetime) -> str:
    return at.strftime("%H:%M:%S")


def _num(value: Decimal | None) -> str:
    return "-" if value is None else decimal_text(value)


# ---- the client takes a price (flow._fields_from_quote, flow._order) ----


def refused_take(turn: Turn, client_id: str, quote: Quote | None, side: str) -> str | None:
    """Why `mine`/`yours` cannot take a dealer's price, in plain words; None when it can (or
    when no request for quote is involved and the flow answers as for any quote)."""
    if quote is None:
        return _no_live_price(turn, client_id)
    rfq = rfqs.for_quote(turn.session, quote.id)
    if rfq is None or rfq.side in (None, side):
        return None
    return (ONLY_BUY if rfq.side == "buy" else ONLY_SELL).format(ref=rfq.ref)


def _no_live_price(turn: Turn, client_id: str) -> str | None:
    """The chat's newest request, when it is newer than any price the bot gave: why there is
    nothing to take (expired here and now if it is due, the client told in this reply)."""
    session = turn.session
    rfqs.expire_due(session, now=turn.now, conversation_id=turn.conversation.id)
    rfq = rfqs.latest_in_chat(session, conversation_id=turn.conversation.id, client_id=client_id)
    if rfq is None:
        return None
    newer = session.scalar(
        select(Quote.id)
        .where(
            Quote.conversation_id == turn.conversation.id,
            Quote.client_id == client_id,
            Quote.created_at > rfq.requested_at,
            Quote.id != (rfq.quote_id or ""),
        )
        .limit(1)
    )
    if newer is not None:
        return None
    if rfq.state == REQUESTED:
        return STILL_PRICING.format(ref=rfq.ref)
    if rfq.state in (DECLINED, EXPIRED) and rfq.outcome != rfqs.REPLACED:
        return closed_text(rfq)
    return None


def taken(turn: Turn, order: Order) -> None:
    """A ticket at a dealer's price: its request is taken (audited)."""
    if order.quote_id is None:
        return
    rfq = rfqs.for_quote(turn.session, order.quote_id)
    if rfq is not None and rfq.state == PRICED:
        rfqs.take(turn.session, rfq, order_id=order.id, now=turn.now)


# ---- the dealer (console.rfqs) ----


def _may_price(session: Session, actor: Actor, rfq: Rfq) -> None:
    """quote:price for this client (a grant's conditions read the client's desk, region...)."""
    client = session.get(User, rfq.client_id)
    attributes = client.attributes() if client is not None else {}
    if not actor.internal or not can(actor, Right.QUOTE_PRICE, attributes):
        raise DealchatError(ErrorCode.FORBIDDEN, "quote:price is needed", http_status=403)


def price(
    session: Session,
    *,
    desk: Desk,
    rfq_id: str,
    actor: Actor,
    bid: Decimal | None,
    ask: Decimal | None,
    validity_seconds: int,
    now: dt.datetime,
) -> Rfq:
    """The dealer's price: a quote in the client's chat for `validity_seconds`, sent to her."""
    rfq = rfqs.find(session, rfq_id, lock=True)
    _may_price(session, actor, rfq)
    if rfq.state != REQUESTED or rfq.expires_at <= now:
        raise rfqs.conflict(rfq)
    bid, ask = rfqs.check_price(rfq, bid=bid, ask=ask, validity_seconds=validity_seconds)
    one = ask if bid is None else bid
    assert one is not None
    quote = orders.record_quote(
        session,
        orders.QuoteFields(
            conversation_id=rfq.conversation_id,
            client_id=rfq.client_id,
            pair=rfq.pair,
            isin=rfq.isin,
            dealt_currency=rfq.dealt_currency,
            quantity=rfq.quantity,
            tenor=rfq.tenor,
        ),
        bid=bid or one,  # a one-sided price: the other side is refused (refused_take)
        ask=ask or one,
        source=f"dealer:{rfq.ref}",
        expires_at=now + dt.timedelta(seconds=validity_seconds),
        now=now,
        actor=actor.audit_name,
    )
    rfqs.mark_priced(
        session,
        rfq,
        dealer_id=actor.user_id,
        actor=actor.audit_name,
        bid=bid,
        ask=ask,
        validity_seconds=validity_seconds,
        quote_id=quote.id,
        now=now,
    )
    _tell(session, desk, rfq, priced_text(rfq))
    return rfq


def priced_text(rfq: Rfq) -> str:
    assert rfq.validity_seconds is not None
    template = {"buy": PRICED_BUY, "sell": PRICED_SELL}.get(rfq.side or "", PRICED_TEXT)
    return template.format(
        ref=rfq.ref,
        request=describe(rfq),
        bid=_num(rfq.bid),
        ask=_num(rfq.ask),
        seconds=rfq.validity_seconds,
        until=_time(rfq.expires_at),
    )


def decline(
    session: Session, *, desk: Desk, rfq_id: str, actor: Actor, reason: str, now: dt.datetime
) -> Rfq:
    rfq = rfqs.find(session, rfq_id, lock=True)
    _may_price(session, actor, rfq)
    rfqs.decline(
        session, rfq, dealer_id=actor.user_id, actor=actor.audit_name, reason=reason, now=now
    )
    # the reason is the dealer's own words: sent as hers, so surveillance reads them
    _tell(session, desk, rfq, closed_text(rfq), author=session.get(User, actor.user_id))
    return rfq


def closed_text(rfq: Rfq) -> str:
    """Why a request gives nothing to take: declined (with the dealer's reason) or expired."""
    request = describe(rfq)
    if rfq.state == DECLINED:
        return DECLINED_TEXT.format(ref=rfq.ref, request=request, reason=rfq.outcome or "-")
    if rfq.outcome == rfqs.NOT_PRICED_IN_TIME:
        return NOT_PRICED.format(ref=rfq.ref, request=request)
    return PRICE_EXPIRED.format(ref=rfq.ref, request=request, until=_time(rfq.expires_at))


def sweep(session: Session, *, desk: Desk, now: dt.datetime) -> list[Rfq]:
    """Expire what is due and tell each client (the console's list and `dealchat serve` call
    this; a client's own `mine` expires her chat's requests in her turn)."""
    expired = rfqs.expire_due(session, now=now)
    for rfq in expired:
        _tell(session, desk, rfq, closed_text(rfq))
    return expired


def sweep_all(sessions: sessionmaker[Session], desk: Desk) -> int:
    with unit_of_work(sessions) as session:
        return len(sweep(session, desk=desk, now=desk.clock()))


class Sweeper:
    """`sweep_all` every `interval` seconds on a thread of `dealchat serve`, beside the
    checkpointer and the outbox dispatcher; `on_swept` (the dispatcher's wake) when it told
    anyone anything."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        desk: Desk,
        *,
        interval: float = 1.0,
        on_swept: Callable[[], None] | None = None,
    ) -> None:
        self._sessions, self._desk, self._interval = sessions, desk, interval
        self._on_swept = on_swept
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sweeper:
        self._thread = threading.Thread(target=self._loop, name="rfq-sweeper", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                swept = sweep_all(self._sessions, self._desk)
            except Exception:
                log.exception("request-for-quote sweep failed")
                continue
            if swept and self._on_swept is not None:
                self._on_swept()


def _tell(session: Session, desk: Desk, rfq: Rfq, text: str, *, author: User | None = None) -> None:
    """Into the client's chat, in the language she asked in (from the bot unless `author`)."""
    for answer in i18n.in_language([OutboundMessage(text)], rfq.language):
        chat_desk.notify(
            session, desk=desk, conversation_id=rfq.conversation_id, answer=answer, author=author
        )
