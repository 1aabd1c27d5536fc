"""What the step-up page shows of the ticket a client approves (identity's `TicketRows` port):
every field of the open ticket whose hash the link is bound to, as the ticket holds it, and the
line the chat read back to her. Nothing here is recomputed from the chat's words: the rows come
from the order row the proof will confirm, the value date from the ticket or, for an outright
without one, from the settlement calendars for its pair, tenor and the ticket's date."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.calendars import value_dates
from dealchat.conversations.models import Conversation
from dealchat.conversations.zh_text import order_zh
from dealchat.identity.interfaces import Approval, TicketRows
from dealchat.nlu.language import in_script
from dealchat.orders import lifecycle, proposals, settlements
from dealchat.orders.models import ChangeProposal, Order
from dealchat.orders.service import AWAITING, ticket_of
from dealchat.orders.tickets import amount_text, describe
from dealchat.records.chain import decimal_text

Rows = list[tuple[str, str]]
CHANGE_APPROVED = "Approved. Go back to the chat and send the change again."
READ_BACK = "As read back in your chat"
_ZH = {
    CHANGE_APPROVED: "已批准。请回到聊天，再发送一次这项更改。",
    "Reference": "编号", "Side": "方向", "Amount": "金额", "Currency pair": "货币对",
    "Bond (ISIN)": "债券 (ISIN)", "Tenor": "期限", "Near leg value date": "近端起息日",
    "Far leg value date": "远端起息日", "Fixing date": "定价日", "Value date": "起息日",
    "Price": "价格", "Time in force": "有效期", "Counterparty": "交易对手",
    READ_BACK: "聊天中的复述", "You approve a change": "您批准的更改",
    "You buy": "您买入", "You sell": "您卖出",
    "At market (the price when it is filled)": "市价（成交时的价格）",
}  # fmt: skip
_ZH_PARTS = (
    (" (the price you took)", "（您接受的报价）"), (" (the desk's default)", "（交易台默认）"),
    (" (swap)", "（掉期）"), (" (non-deliverable)", "（无本金交割）"), (" until ", "，至 "),
    ("Limit ", "限价 "), ("Stop ", "止损 "), ("limit ", "限价 "), (" is working at ", " 正在 "),
    (": amount ", " 挂单：金额 "), (" vs ", " 对 "),
)  # fmt: skip


def ticket_rows(default_counterparty: str) -> TicketRows:
    """The hook the app puts on `app.state.ticket_rows`; `default_counterparty` is where an order
    that names none goes."""

    def rows(
        session: Session,
        *,
        ticket_hash: str,
        channel: str,
        external_id: str,
        language: str | None,
    ) -> Approval | None:
        order = session.scalar(
            select(Order)
            .join(Conversation, Conversation.id == Order.conversation_id)
            .where(
                Order.ticket_hash == ticket_hash,
                Order.state == AWAITING,
                Conversation.channel == channel,
            )
        )
        if order is not None:
            return Approval(localised(rows_of(order, default_counterparty), language))
        return _proposed(session, ticket_hash, channel, default_counterparty, language)

    return rows


def _proposed(
    session: Session,
    ticket_hash: str,
    channel: str,
    default_counterparty: str,
    language: str | None,
) -> Approval | None:
    """A change of a working order (amend at a FIX counterparty) bound to the link's hash."""
    found = proposals.find(session, ticket_hash)
    if found is None:
        return None
    order, proposal = found
    conversation = session.get(Conversation, order.conversation_id)
    if order.state not in lifecycle.REPLACEABLE or conversation is None:
        return None
    if conversation.channel != channel:
        return None
    shown = proposal_rows(order, proposal, default_counterparty)
    done = in_script(_ZH[CHANGE_APPROVED], language) if language else CHANGE_APPROVED
    return Approval(localised(shown, language), done)


def localised(rows: Rows, language: str | None) -> Rows:
    """The rows in `language` (None: as they are, English); the read-back as the chat said it."""
    if language is None:
        return rows
    out = []
    for label, value in rows:
        shown = order_zh(value) if label == READ_BACK else _ZH.get(value) or _parts_zh(value)
        out.append((in_script(_ZH.get(label, label), language), in_script(shown, language)))
    return out


def _parts_zh(value: str) -> str:
    for english, chinese in _ZH_PARTS:
        value = value.replace(english, chinese)
    return value


def proposal_rows(order: Order, proposal: ChangeProposal, default_counterparty: str) -> Rows:
    """The order as it will be once changed, with what changes first."""
    new_amount = f"{amount_text(proposal.quantity)} {_dealt(order)}".strip()
    new_price = f"Limit {decimal_text(proposal.limit_price.normalize())}"
    old_price = _price(order)
    change = (
        f"{order.ref} is working at {order.routed_to or 'the counterparty'}: amount "
        f"{amount_text(order.quantity)} → {amount_text(proposal.quantity)}, "
        f"{old_price.lower()} → {new_price.lower()}"
    )
    replaced = {
        "Amount": new_amount,
        "Price": new_price,
        READ_BACK: describe(proposals.changed_ticket(order, proposal)),
    }
    rows = [
        (label, replaced.get(label, value)) for label, value in rows_of(order, default_counterparty)
    ]
    return [("You approve a change", change), *rows]


def rows_of(order: Order, default_counterparty: str) -> Rows:
    ticket = ticket_of(order)
    rows: Rows = [
        ("Reference", order.ref),
        ("Side", "You buy" if order.side == "buy" else "You sell"),
        ("Amount", f"{amount_text(order.quantity)} {_dealt(order)}".strip()),
    ]
    if order.pair is not None:
        rows.append(("Currency pair", order.pair))
    else:
        rows.append(("Bond (ISIN)", order.isin or ""))
    rows += _dates(order)
    rows.append(("Price", _price(order)))
    if order.time_in_force:
        until = f" until {order.expire_date}" if order.expire_date else ""
        rows.append(("Time in force", f"{order.time_in_force}{until}"))
    counterparty = order.counterparty or f"{default_counterparty} (the desk's default)"
    rows.append(("Counterparty", counterparty))
    rows.append((READ_BACK, describe(ticket)))
    return rows


def _dealt(order: Order) -> str:
    if order.dealt_currency:
        return order.dealt_currency
    if order.pair is not None:
        return order.pair.split("/")[0]
    return "face"


def _dates(order: Order) -> Rows:
    if order.pair is None:
        return [("Tenor", order.tenor or "SPOT")] if order.tenor else []
    tenor = order.tenor or "SPOT"
    if order.product == "swap":
        return [
            ("Tenor", f"{tenor} vs {order.far_tenor} (swap)"),
            ("Near leg value date", order.value_date or ""),
            ("Far leg value date", order.far_value_date or ""),
        ]
    value = (
        order.value_date
        or value_dates.value_date(order.pair, tenor, order.created_at.date()).isoformat()
    )
    rows = [("Tenor", f"{tenor} (non-deliverable)" if order.product == "ndf" else tenor)]
    if order.fixing_date:
        rows.append(("Fixing date", order.fixing_date))
    rows.append(("Value date", value))
    return rows


def _price(order: Order) -> str:
    if order.order_type == "stop" and order.stop_price is not None:
        return f"Stop {decimal_text(order.stop_price.normalize())}"
    if order.limit_price is not None:
        taken = " (the price you took)" if order.quote_id else ""
        return f"Limit {decimal_text(order.limit_price.normalize())}{taken}"
    return "At market (the price when it is filled)"


def receipt_rows(order: Order, default_counterparty: str) -> Rows:
    """The receipt page's rows: the ticket as approved, then what became of it: state, fill,
    both amounts as they settle and the value date they settle on."""
    rows = [row for row in rows_of(order, default_counterparty) if row[0] != READ_BACK]
    rows.append(("Order", describe(ticket_of(order))))
    rows.append(("State", order.state.replace("_", " ")))
    if order.placed_at is not None:
        rows.append(("Sent to the market", _when(order.placed_at)))
    if order.fill_price is None:
        return rows
    rows += [
        ("Filled", _when(order.filled_at) if order.filled_at else "-"),
        ("Fill price", decimal_text(order.fill_price.normalize())),
        ("Filled amount", amount_text(order.fill_quantity or order.quantity)),
        ("Executed by", order.executed_by or "-"),
        ("Execution", order.execution_id or "-"),
    ]
    if order.pair is not None and order.product in (None, "outright"):
        legs = settlements.legs(order)
        for currency, signed in legs:
            label = "You bought" if signed > 0 else "You sold"
            rows.append((label, f"{currency} {format(abs(signed), ',f')}"))
        settled = settlements.value_date_of(order, order.filled_at or order.created_at)
        rows = [(label, settled if label == "Value date" else value) for label, value in rows]
    return rows


def _when(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")
