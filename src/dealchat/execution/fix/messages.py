"""FIX 4.4 application messages as the platform reads and writes them, pure: no engine, no I/O.

`instruction_fields` gives the tag/value pairs of a NewOrderSingle (D), OrderCancelRequest (F) or
OrderCancelReplaceRequest (G) for an order; the engine puts them in a QuickFIX message. `Report`
is what an ExecutionReport (8), OrderCancelReject (9), a session Reject (3) or a
BusinessMessageReject (j) says, read from the message's tag=value text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

SOH = "\x01"
# Tags by name, FIX 4.4
ACCOUNT, AVG_PX, CL_ORD_ID, CUM_QTY, CURRENCY, EXEC_ID = 1, 6, 11, 14, 15, 17
SECURITY_ID_SOURCE, LAST_PX, LAST_QTY, MSG_SEQ_NUM, MSG_TYPE, ORDER_ID = 22, 31, 32, 34, 35, 37
ORDER_QTY, ORD_STATUS, ORD_TYPE, ORIG_CL_ORD_ID, POSS_DUP, PRICE = 38, 39, 40, 41, 43, 44
REF_SEQ_NUM, SECURITY_ID, SIDE, SYMBOL, TEXT, TIME_IN_FORCE = 45, 48, 54, 55, 58, 59
TRANSACT_TIME, SETTL_TYPE, SETTL_DATE, STOP_PX, ORD_REJ_REASON = 60, 63, 64, 99, 103
GAP_FILL, NEW_SEQ_NO, BEGIN_SEQ_NO, END_SEQ_NO = 123, 36, 7, 16
EXEC_TYPE, LEAVES_QTY, SECURITY_TYPE, BUSINESS_REJECT_REF, PRODUCT = 150, 151, 167, 379, 460
EXPIRE_DATE = 432

_SIDES = {"buy": "1", "sell": "2"}
_ORD_TYPES = {"market": "1", "limit": "2", "stop": "3"}
_TIME_IN_FORCE = {"DAY": "0", "GTC": "1", "IOC": "3", "FOK": "4", "GTD": "6"}
NEW_ORDER, CANCEL, REPLACE = "D", "F", "G"
EXECUTION_REPORT, CANCEL_REJECT, SESSION_REJECT, BUSINESS_REJECT = "8", "9", "3", "j"


@dataclass(frozen=True)
class Instruction:
    """What one outbound order message carries (from the order and its outbox row)."""

    msg_type: str
    clordid: str
    orig_clordid: str | None
    side: str
    pair: str | None
    isin: str | None
    dealt_currency: str | None
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    time_in_force: str | None
    expire_date: str | None
    value_date: str | None
    spot: bool
    account: str | None
    lp_order_id: str | None = None


def instruction_fields(order: Instruction, now: dt.datetime) -> list[tuple[int, str]]:
    """The body fields, in the order FIX 4.4 lists them; amounts as plain decimals."""
    fields: list[tuple[int, str]] = [(CL_ORD_ID, order.clordid)]
    if order.orig_clordid is not None:
        fields.append((ORIG_CL_ORD_ID, order.orig_clordid))
    if order.lp_order_id is not None and order.msg_type != NEW_ORDER:
        fields.append((ORDER_ID, order.lp_order_id))
    if order.account:
        fields.append((ACCOUNT, order.account))
    fields += _instrument(order)
    fields += [
        (SIDE, _SIDES[order.side]),
        (TRANSACT_TIME, now.astimezone(dt.UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]),
        (ORDER_QTY, _text(order.quantity)),
    ]
    if order.msg_type == CANCEL:
        return fields  # FIX 4.4 has no Currency in an OrderCancelRequest
    if order.dealt_currency:
        fields.append((CURRENCY, order.dealt_currency))
    fields.append((ORD_TYPE, _ORD_TYPES[order.order_type]))
    if order.limit_price is not None:
        fields.append((PRICE, _text(order.limit_price)))
    if order.stop_price is not None:
        fields.append((STOP_PX, _text(order.stop_price)))
    if order.time_in_force:
        fields.append((TIME_IN_FORCE, _TIME_IN_FORCE[order.time_in_force]))
        if order.time_in_force == "GTD" and order.expire_date:
            fields.append((EXPIRE_DATE, order.expire_date.replace("-", "")))
    if order.value_date:
        fields.append((SETTL_TYPE, "0" if order.spot else "6"))
        fields.append((SETTL_DATE, order.value_date.replace("-", "")))
    return fields


def _instrument(order: Instruction) -> list[tuple[int, str]]:
    if order.pair is not None:
        return [(SYMBOL, order.pair), (PRODUCT, "4"), (SECURITY_TYPE, "FOR")]
    assert order.isin is not None
    return [(SYMBOL, order.isin), (SECURITY_ID, order.isin), (SECURITY_ID_SOURCE, "4")]


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def fields_of(raw: str) -> dict[int, str]:
    """Tag -> value of a tag=value message (the last value of a repeated tag)."""
    out: dict[int, str] = {}
    for part in raw.split(SOH):
        tag, sep, value = part.partition("=")
        if sep and tag.isdigit():
            out[int(tag)] = value
    return out


def printable(raw: str) -> str:
    return raw.replace(SOH, "|")


@dataclass(frozen=True)
class Report:
    """An inbound application message about an order, as far as the platform reads it."""

    msg_type: str
    seq_num: int
    poss_dup: bool
    clordid: str | None
    orig_clordid: str | None
    lp_order_id: str | None
    exec_id: str | None
    exec_type: str | None
    ord_status: str | None
    side: str | None  # buy | sell
    symbol: str | None
    order_qty: Decimal | None
    last_qty: Decimal | None
    last_px: Decimal | None
    cum_qty: Decimal | None
    leaves_qty: Decimal | None
    avg_px: Decimal | None
    settl_date: str | None  # ISO
    text: str | None
    ref_seq_num: int | None

    @property
    def is_fill(self) -> bool:
        """A trade: ExecType F (4.4), or 1/2 from older habits, with a quantity."""
        return self.exec_type in ("F", "1", "2") and bool(self.last_qty)


def read_report(raw: str) -> Report:
    """Read an inbound application message; ValueError when a number or date is malformed."""
    fields = fields_of(raw)
    side = {"1": "buy", "2": "sell"}.get(fields.get(SIDE, ""))
    settl = fields.get(SETTL_DATE)
    return Report(
        msg_type=fields.get(MSG_TYPE, ""),
        seq_num=int(fields.get(MSG_SEQ_NUM, "0")),
        poss_dup=fields.get(POSS_DUP) == "Y",
        clordid=fields.get(CL_ORD_ID) or fields.get(BUSINESS_REJECT_REF),
        orig_clordid=fields.get(ORIG_CL_ORD_ID),
        lp_order_id=fields.get(ORDER_ID),
        exec_id=fields.get(EXEC_ID),
        exec_type=fields.get(EXEC_TYPE),
        ord_status=fields.get(ORD_STATUS),
        side=side if SIDE in fields else None,
        symbol=fields.get(SYMBOL),
        order_qty=_decimal(fields.get(ORDER_QTY)),
        last_qty=_decimal(fields.get(LAST_QTY)),
        last_px=_decimal(fields.get(LAST_PX)),
        cum_qty=_decimal(fields.get(CUM_QTY)),
        leaves_qty=_decimal(fields.get(LEAVES_QTY)),
        avg_px=_decimal(fields.get(AVG_PX)),
        settl_date=None if settl is None else _iso_date(settl),
        text=fields.get(TEXT),
        ref_seq_num=int(fields[REF_SEQ_NUM]) if fields.get(REF_SEQ_NUM, "").isdigit() else None,
    )


def _decimal(value: str | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation as error:
        raise ValueError(f"not a number: {value!r}") from error
    if not number.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return number


def _iso_date(value: str) -> str:
    return dt.datetime.strptime(value, "%Y%m%d").date().isoformat()
