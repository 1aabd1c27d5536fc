"""What each intent does (PRODUCT.md, the main flow steps 3-7) and the step-up it needs.

Levels are declared in one table, `access.levels.INTENT_LEVELS`, and `answer` gates on it: help,
info, clarify and link need nothing (0); quotes, tickets, status and cancel need a linked chat
identity with a fresh session (1); a confirmation needs a single-use proof of both factors bound to
the hash of the ticket it confirms (2).
"""

from __future__ import annotations

from collections.abc import Callable

from dealchat.access import service as access
from dealchat.access.levels import intent_level
from dealchat.channels.interfaces import OutboundMessage
from dealchat.conversations import (
    amend,
    clarify_reply,
    executions,
    link_reply,
    order_ticket,
    pretrade,
    receipt_reply,
    replies,
    reset_reply,
    rfq,
)
from dealchat.conversations.context import Turn
from dealchat.conversations.secure_link import secure_link as _secure_link
from dealchat.identity import service as identity
from dealchat.identity.models import User
from dealchat.nlu import Intent, IntentKind
from dealchat.orders import service as orders
from dealchat.orders.models import Order, Quote
from dealchat.orders.tickets import ticket_text

Answer = list[OutboundMessage]


def answer(turn: Turn, intent: Intent) -> Answer:
    """Gate on the intent's declared level (access.levels) first: level 1 and 2 need a login.
    The gate's decision goes to the access log."""
    level = intent_level(intent.intent.value).level
    if level >= 1 and not access.decide_intent(
        turn.session,
        user=_client(turn),
        channel=turn.message.channel,
        sender=turn.message.sender_id,
        intent=intent.intent.value,
        level=level,
    ):
        return _link(turn, intent)
    return _HANDLERS.get(intent.intent, _unknown)(turn, intent)


def _say(text: str, link: str | None = None) -> Answer:
    return [OutboundMessage(text=text, link=link)]


def _unknown(turn: Turn, intent: Intent) -> Answer:
    return _say(_policy_reply(turn) or replies.UNKNOWN)


def _help(turn: Turn, intent: Intent) -> Answer:
    return _say(replies.HELP)


def _clarify(turn: Turn, intent: Intent) -> Answer:
    return _say(_policy_reply(turn) or clarify_reply.text(intent))


def _policy_reply(turn: Turn) -> str | None:
    """A request the desk will not follow (moving to an unrecorded channel) gets a plain answer
    instead of "didn't understand"; surveillance raises its alert from the recorded message."""
    screen = turn.desk.screen
    if screen is None:
        return None
    categories = screen(turn.session, turn.message.text, turn.message.channel)
    return replies.OFF_CHANNEL if "off_channel" in categories else None


def _info(turn: Turn, intent: Intent) -> Answer:
    return _say(replies.info_text(intent.pair, intent.isin))


def _report(turn: Turn, intent: Intent) -> Answer:
    return link_reply.answer(turn, _client(turn), link_reply.REPORT)


def _upload(turn: Turn, intent: Intent) -> Answer:
    return link_reply.answer(turn, _client(turn), link_reply.UPLOAD)


def _link(turn: Turn, intent: Intent) -> Answer:
    return _secure_link(turn, replies.LOGIN, purpose="link", ticket_hash=None)


def _login(turn: Turn, intent: Intent) -> Answer:
    """`login` asked for: a chat already logged in is told so (the link still lets her log in
    again, or as someone else), not asked to "send your request again"."""
    template = replies.LOGIN if _client(turn) is None else replies.RELOGIN
    return _secure_link(turn, template, purpose="link", ticket_hash=None)


def _client(turn: Turn) -> User | None:
    return identity.chat_user(
        turn.session,
        channel=turn.message.channel,
        external_id=turn.message.sender_id,
        policy=turn.desk.policy,
        now=turn.now,
    )


def _quote(turn: Turn, intent: Intent) -> Answer:
    user = _client(turn)
    if user is None:
        return _link(turn, intent)
    dealer_priced = rfq.route(turn, user.id, intent)  # a request for quote to the desk
    if dealer_priced is not None:
        return dealer_priced
    try:
        quote = orders.give_quote(
            turn.session,
            conversation_id=turn.conversation.id,
            client_id=user.id,
            intent=intent,
            prices=turn.desk.prices,
            ttl=turn.desk.quote_ttl,
            now=turn.now,
        )
    except LookupError:
        return _say(replies.CANNOT_PRICE.format(name=intent.pair or intent.isin))
    side = None if intent.side is None else intent.side.value
    return _say(replies.quote_text(quote, side, int(turn.desk.quote_ttl.total_seconds())))


def _order(turn: Turn, intent: Intent) -> Answer:
    user = _client(turn)
    if user is None:
        return _link(turn, intent)
    fields_or_reply: dict[str, object] | Answer | str
    if intent.from_quote:
        fields_or_reply = _fields_from_quote(turn, user, intent)
    else:
        fields_or_reply = order_ticket.fields_from_intent(intent, turn.now.date())
    if isinstance(fields_or_reply, str):
        return _say(fields_or_reply)
    if isinstance(fields_or_reply, list):
        return fields_or_reply
    replaced = orders.open_tickets(
        turn.session, conversation_id=turn.conversation.id, client_id=user.id
    )
    order = orders.create_ticket(
        turn.session,
        conversation_id=turn.conversation.id,
        client_id=user.id,
        ticket_fields=fields_or_reply,
        now=turn.now,
        replacing=replaced,
    )
    rfq.taken(turn, order)
    told = [replies.REPLACED.format(ref=old.ref, new=order.ref) for old in replaced]
    return [*map(OutboundMessage, told), *_say(ticket_text(orders.ticket_of(order)))]


def _fields_from_quote(turn: Turn, user: User, intent: Intent) -> dict[str, object] | Answer:
    """`mine` / `yours`: a ticket at the last live quote's price, for its size."""
    quote = orders.live_quote(
        turn.session, conversation_id=turn.conversation.id, client_id=user.id, now=turn.now
    )
    assert intent.side is not None
    refused = rfq.refused_take(turn, user.id, quote, intent.side.value)
    if refused is not None:
        return _say(refused)
    if quote is None:
        return _say(replies.NO_LIVE_QUOTE)
    quantity = quote.quantity
    if quantity is None:
        return _say(replies.QUOTE_WITHOUT_SIZE)
    if intent.quantity is not None and intent.quantity != quantity:
        wanted = replies.size(intent.quantity)
        return _say(replies.SIZE_MISMATCH.format(quoted=replies.size(quantity), wanted=wanted))
    side = intent.side.value
    return {
        "side": side,
        "pair": quote.pair,
        "isin": quote.isin,
        "dealt_currency": quote.dealt_currency,
        "quantity": quantity,
        "tenor": quote.tenor,
        "order_type": "limit",
        "limit_price": orders.quote_price(quote, side),
        "counterparty": None,
        "quote_id": quote.id,
    }


def _confirm(turn: Turn, intent: Intent) -> Answer:
    user = _client(turn)
    if user is None:
        return _link(turn, intent)
    tickets = orders.open_tickets(
        turn.session, conversation_id=turn.conversation.id, client_id=user.id
    )
    if not tickets:
        return _say(replies.NOTHING_TO_CONFIRM)
    order = tickets[0]
    if turn.now - orders.confirm_window_start(order) > turn.desk.ticket_ttl:
        orders.expire_ticket(turn.session, order, reason="not confirmed in time")
        return _say(replies.TICKET_EXPIRED.format(ref=order.ref))
    if _quote_expired(turn, order):
        orders.expire_ticket(turn.session, order, reason="quote expired before confirmation")
        return _say(replies.QUOTE_EXPIRED.format(ref=order.ref))
    proven = identity.use_stepup(
        turn.session,
        channel=turn.message.channel,
        external_id=turn.message.sender_id,
        user_id=user.id,
        ticket_hash=order.ticket_hash,
        now=turn.now,
    )
    if not proven:
        return _secure_link(
            turn, replies.STEP_UP, purpose="stepup", ticket_hash=order.ticket_hash, ref=order.ref
        )
    text = pretrade.place_checked(
        turn.session, desk=turn.desk, order=order, client=user, now=turn.now
    )
    return receipt_reply.with_receipt(turn, order, text)


def _quote_expired(turn: Turn, order: Order) -> bool:
    if order.quote_id is None:
        return False
    quote = turn.session.get(Quote, order.quote_id)
    return quote is None or quote.expires_at <= turn.now


def _cancel(turn: Turn, intent: Intent) -> Answer:
    user = _client(turn)
    if user is None:
        return _say(replies.NOTHING_TO_CANCEL)
    tickets = orders.open_tickets(
        turn.session, conversation_id=turn.conversation.id, client_id=user.id
    )
    if intent.order_ref is not None:
        chosen = [t for t in tickets if t.ref == intent.order_ref]
        if not chosen:
            return _cannot_cancel(turn, user, intent.order_ref)
        tickets = chosen
    if not tickets:
        return _say(replies.NOTHING_TO_CANCEL)
    for ticket in tickets:
        orders.cancel_ticket(turn.session, ticket)
    return [OutboundMessage(replies.cancelled_text(ticket)) for ticket in tickets]


def _cannot_cancel(turn: Turn, user: User, ref: str) -> Answer:
    found = orders.client_orders(turn.session, client_id=user.id, ref=ref, limit=1)
    if not found:
        return _say(f"I can't find {ref} among your orders.")
    sent = executions.cancel(turn.session, desk=turn.desk, order=found[0], now=turn.now)
    return _say(sent or replies.cannot_cancel_text(found[0]))


def _status(turn: Turn, intent: Intent) -> Answer:
    user = _client(turn)
    if user is None:
        return _link(turn, intent)
    everything = intent.show_all or intent.order_ref is not None
    found = orders.client_orders(
        turn.session, client_id=user.id, ref=intent.order_ref, drafts=everything
    )
    hidden = 0 if everything else orders.count_drafts(turn.session, client_id=user.id)
    if not found and not hidden:
        if intent.order_ref:
            return _say(f"I can't find {intent.order_ref} among your orders.")
        return _say(replies.NO_ORDERS)
    lines = [replies.status_line(order) for order in found]
    if hidden:
        template = replies.HIDDEN_DRAFT if hidden == 1 else replies.HIDDEN_DRAFTS
        lines.append(template.format(count=hidden))
    text = "\n".join(lines)
    if intent.order_ref is not None:
        return receipt_reply.with_receipt(turn, found[0], text)
    return _say(text)


_HANDLERS: dict[IntentKind, Callable[[Turn, Intent], Answer]] = {
    IntentKind.HELP: _help,
    IntentKind.UNKNOWN: _unknown,
    IntentKind.CLARIFY: _clarify,
    IntentKind.INFO: _info,
    IntentKind.REPORT: _report,
    IntentKind.UPLOAD: _upload,
    IntentKind.LINK: _login,
    IntentKind.RESET_PASSWORD: reset_reply.answer,
    IntentKind.QUOTE: _quote,
    IntentKind.ORDER: _order,
    IntentKind.AMEND: amend.answer,
    IntentKind.CONFIRM: _confirm,
    IntentKind.CANCEL: _cancel,
    IntentKind.STATUS: _status,
}
