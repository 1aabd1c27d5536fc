"""What the bot says. Plain words; never a stack trace, never a request for a password."""

from __future__ import annotations

from decimal import Decimal

from dealchat.calendars import value_dates
from dealchat.orders import settlements
from dealchat.orders.models import Order, Quote
from dealchat.orders.service import ticket_of
from dealchat.orders.tickets import amount_text, describe, instrument_words
from dealchat.records.chain import decimal_text

HELP = (
    "I take FX and bond orders for the desk. Try 'mkt eurusd 1m' for a price, "
    "'buy 1m eurusd' to order, 'status' for your orders, 'login' to link your account. "
    "I will never ask for your password in chat."
)
UNKNOWN = "Sorry, I didn't understand that. Type help to see what I can do."
OFF_CHANNEL = (
    "We can only discuss and take orders here, where the conversation is recorded as the "
    "regulations require: not on another app, a personal phone or private email. "
    "How can I help you here?"
)
LOGIN = (
    "Please log in on the bank's secure page (single use, valid {minutes} minutes), "
    "then come back and send your request again. Never share this link."
)
RELOGIN = (
    "This chat is already logged in. To log in again, or as someone else, use the bank's secure "
    "page (single use, valid {minutes} minutes). Never share this link."
)
LINK_SENT = (
    "A secure link was already sent in this chat; it stays valid until {until} UTC. "
    "Use that one (a new one can be asked for once it has expired)."
)
STEP_UP = (
    "To confirm {ref}, approve it on the bank's secure page with your password and "
    "authenticator code (single use, valid {minutes} minutes), then reply c here."
)
NOTHING_TO_CONFIRM = "There is nothing to confirm. Send an order first, e.g. 'buy 1m eurusd'."
NOTHING_TO_CANCEL = "There is nothing to cancel."
NO_LIVE_QUOTE = "There is no live price to take. Ask for one first, e.g. 'mkt eurusd 1m'."
QUOTE_EXPIRED = "The price for {ref} has expired, so it was not traded. Ask for a new price."
TICKET_EXPIRED = "{ref} was not confirmed in time, so it was not traded. Send the order again."
NO_ORDERS = "You have no orders yet."
REPORT = "Audit reports are for authorised internal users, from the compliance console."
RECEIPT_LINE = (
    "Your signed receipt (single use, valid {minutes} minutes): keep it; "
    "anyone can check it offline with dealchat audit verify-receipt."
)
REPORT_LINK = (
    "This conversation's audit report (single use, valid {minutes} minutes, "
    "signed-in users with audit export only). Never share this link."
)
UPLOAD_LINK = (
    "Send your document on the bank's secure page (one file, single use, valid {minutes} "
    "minutes). It is virus-scanned and stored encrypted with this conversation. "
    "Never share this link."
)
RESET_LINK = (
    "To choose a new password, open the bank's secure page (single use, valid {minutes} "
    "minutes). It asks for your second factor first. Never type a password into this chat, "
    "and never share this link."
)
RESET_NOT_LINKED = (
    "This chat is not linked to a client account, so no password can be reset from here. "
    "Please contact your relationship manager."
)
UPLOAD_REFUSED = "Uploading documents here is not open to your account. Please ask your dealer."
DOCUMENT_RECEIVED = (
    "Received {ref}: {name} ({label}, {size}), virus-scanned and stored encrypted with this "
    "conversation."
)
CANNOT_PRICE = "I can't price {name} here. Please call your dealer."
QUOTE_WITHOUT_SIZE = "That price had no amount. Ask for one with an amount, e.g. 'mkt eurusd 1m'."
SIZE_MISMATCH = "That price was for {quoted}. Ask for a new price for {wanted}."
# The second line of a fill: both amounts as they settle, and when.
FILL_AMOUNTS = "You {leg} / {other_leg}, value date {value_date}."
FILL_SWAP_DATES = "Near leg value date {value_date}, far leg value date {far_value_date}."
FILL_NDF_DATES = "Fixing date {fixing_date}, settled in USD value date {value_date}."
REPLACED = "{ref} cancelled: replaced by {new}. Nothing was traded on {ref}."
HIDDEN_DRAFTS = "{count} cancelled or expired tickets not shown: type status all to see them."
HIDDEN_DRAFT = "{count} cancelled or expired ticket not shown: type status all to see it."


def quote_text(quote: Quote, side: str | None, ttl_seconds: int) -> str:
    size = ""
    if quote.quantity is not None:
        size = f" {amount_text(quote.quantity)} {quote.dealt_currency or ''}".rstrip()
    tenor = f" {quote.tenor}" if quote.tenor else ""
    if quote.pair is not None and quote.tenor not in (None, "SPOT"):
        settles = value_dates.value_date(quote.pair, quote.tenor, quote.created_at.date())
        tenor += f" {settles.isoformat()}"  # the forward's value date, in any language
    bid, ask = _num(quote.bid), _num(quote.ask)
    head = f"{quote.pair or quote.isin}{size}{tenor}: {bid} / {ask}"
    head += f" (indicative, valid {ttl_seconds}s)."
    if side == "buy":
        return f"{head} Reply mine to buy at {ask}."
    if side == "sell":
        return f"{head} Reply yours to sell at {bid}."
    return f"{head} Reply mine to buy at {ask} or yours to sell at {bid}."


def info_text(pair: str | None, isin: str | None) -> str:
    if pair is not None:
        base, quote = pair.split("/")
        return (
            f"{pair}: price of 1 {base} in {quote}. Ask 'mkt {pair.replace('/', '').lower()} 1m'."
        )
    return f"{isin}: a bond. Ask 'quote {isin} 1m' for a price."


def fill_text(order: Order) -> str:
    """`FILLED ...` and, for FX, a second line with both amounts and the value date."""
    if order.state == "filled":
        verb = "BOUGHT" if order.side == "buy" else "SOLD"
        words = instrument_words(ticket_of(order))
        head = (
            f"FILLED {order.ref}: YOU {verb} {words} at {_num(order.fill_price)} "
            f"with {order.executed_by}. Execution {order.execution_id}."
        )
        settled = settlement_text(order)
        return head if settled is None else f"{head}\n{settled}"
    return f"REJECTED {order.ref}: {order.reject_reason}. Nothing was traded."


def settlement_text(order: Order) -> str | None:
    """What a filled FX order settles: `You bought EUR 1,000,000.00 / sold USD 1,085,110.00,
    value date 2026-12-09.` (the legs and value date booked for reconciliation); a swap's two
    value dates, an NDF's fixing and value dates; None for a bond."""
    if order.pair is None or order.fill_price is None:
        return None
    if order.product == "swap":
        return FILL_SWAP_DATES.format(
            value_date=order.value_date, far_value_date=order.far_value_date
        )
    if order.product == "ndf":
        return FILL_NDF_DATES.format(fixing_date=order.fixing_date, value_date=order.value_date)
    (base, base_amount), (quote, quote_amount) = settlements.legs(order)
    value_date = settlements.value_date_of(order, order.filled_at or order.created_at)
    return FILL_AMOUNTS.format(
        leg=leg_text(base, base_amount),
        other_leg=leg_text(quote, quote_amount),
        value_date=value_date,
    )


def leg_text(currency: str, signed: Decimal) -> str:
    """`bought EUR 1,000,000.00` (the client receives it) or `sold USD 1,085,110.00`."""
    verb = "bought" if signed > 0 else "sold"
    return f"{verb} {currency} {money(abs(signed))}"


def money(value: Decimal) -> str:
    return format(value, ",f")


def status_line(order: Order) -> str:
    """`ORD-X FILLED BUY ... at market, done at 1.08 on 2026-12-07 10:00:05 UTC (ordered ...)`"""
    at = ""
    if order.fill_price is not None:
        at = f", done at {_num(order.fill_price)}"
        if order.filled_at is not None:
            at += f" on {order.filled_at.strftime('%Y-%m-%d %H:%M:%S UTC')}"
    when = order.created_at.strftime("%Y-%m-%d %H:%M UTC")
    return f"{order.ref} {order.state.upper()} {describe(ticket_of(order))}{at} (ordered {when})"


def cancelled_text(order: Order) -> str:
    return f"Cancelled {order.ref}. Nothing was traded."


def cannot_cancel_text(order: Order) -> str:
    return f"{order.ref} is {order.state}; it can't be cancelled in chat. Please call your dealer."


def _num(value: Decimal | None) -> str:
    return "-" if value is None else decimal_text(value)


def size(value: Decimal | None) -> str:
    return "no size" if value is None else amount_text(value)
