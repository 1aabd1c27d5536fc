"""The structured intent a chat message becomes (NLU.md "Output")."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class IntentKind(StrEnum):
    HELP = "help"
    INFO = "info"
    QUOTE = "quote"
    ORDER = "order"
    AMEND = "amend"
    CONFIRM = "confirm"
    CANCEL = "cancel"
    STATUS = "status"
    LINK = "link"
    REPORT = "report"
    UPLOAD = "upload"
    RESET_PASSWORD = "reset_password"  # noqa: S105 - an intent's name, not a secret
    CLARIFY = "clarify"
    UNKNOWN = "unknown"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class AssetClass(StrEnum):
    FX = "fx"
    BOND = "bond"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class Product(StrEnum):
    OUTRIGHT = "outright"  # spot included
    SWAP = "swap"
    NDF = "ndf"


class TimeInForce(StrEnum):
    DAY = "DAY"
    GTC = "GTC"
    GTD = "GTD"
    IOC = "IOC"
    FOK = "FOK"


TRADING_KINDS = frozenset({IntentKind.QUOTE, IntentKind.ORDER, IntentKind.INFO})


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text with no exponent: 1.5E+6 -> '1500000', 151.20 -> '151.20'."""
    return format(value, "f")


@dataclass(frozen=True, slots=True)
class Explained:
    """One piece of the message and the field it became (for `--explain`)."""

    token: str
    field: str
    value: str


@dataclass(frozen=True, slots=True)
class Intent:
    """One message's meaning. Only the fields that apply to `intent` are set."""

    intent: IntentKind
    asset_class: AssetClass | None = None
    side: Side | None = None
    pair: str | None = None
    dealt_currency: str | None = None
    quantity: Decimal | None = None
    tenor: str | None = None
    isin: str | None = None
    order_type: OrderType | None = None
    limit_price: Decimal | None = None
    counterparty: str | None = None
    from_quote: bool = False
    order_ref: str | None = None
    show_all: bool = False  # status: `status all` lists cancelled and expired tickets too
    reason: str | None = None
    missing: tuple[str, ...] = ()
    product: Product | None = None
    near_tenor: str | None = None
    far_tenor: str | None = None
    time_in_force: TimeInForce | None = None
    expire_date: str | None = None
    stop_price: Decimal | None = None
    # amend: the fields that change, as (field, value text) in the order the client wrote them
    changes: tuple[tuple[str, str], ...] = ()
    # clarify: a stable code for the reason (for replies in other languages) and the word at fault
    code: str | None = None
    word: str | None = None
    explanation: tuple[Explained, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_trading(self) -> bool:
        return self.intent in TRADING_KINDS

    @property
    def changes_dict(self) -> dict[str, str]:
        return dict(self.changes)

    def to_dict(self) -> dict[str, object]:
        """The JSON object of NLU.md: the intent and the fields its kind carries."""
        out: dict[str, object] = {"intent": self.intent.value}
        if self.intent is IntentKind.CLARIFY:
            out["reason"] = self.reason
            out["missing"] = list(self.missing)
            out["code"] = self.code
            if self.word is not None:
                out["word"] = self.word
            return out
        if self.intent in (IntentKind.CANCEL, IntentKind.STATUS):
            out["order_ref"] = self.order_ref
            if self.show_all:
                out["all"] = True
            return out
        if self.intent is IntentKind.AMEND:
            out["order_ref"] = self.order_ref
            out["changes"] = self.changes_dict
            return out
        if self.intent not in TRADING_KINDS:
            return out
        out["asset_class"] = _value(self.asset_class)
        if self.intent is not IntentKind.INFO:
            out["side"] = _value(self.side)
        out["pair"] = self.pair
        out["dealt_currency"] = self.dealt_currency
        out["isin"] = self.isin
        if self.intent is IntentKind.INFO:
            return out
        out["quantity"] = None if self.quantity is None else decimal_text(self.quantity)
        out["tenor"] = self.tenor
        out["limit_price"] = None if self.limit_price is None else decimal_text(self.limit_price)
        out["counterparty"] = self.counterparty
        out["product"] = _value(self.product)
        out["near_tenor"] = self.near_tenor
        out["far_tenor"] = self.far_tenor
        if self.intent is IntentKind.ORDER:
            out["order_type"] = _value(self.order_type)
            out["from_quote"] = self.from_quote
            out["stop_price"] = None if self.stop_price is None else decimal_text(self.stop_price)
            out["time_in_force"] = _value(self.time_in_force)
            out["expire_date"] = self.expire_date
        return out


def _value(item: StrEnum | None) -> str | None:
    return None if item is None else item.value
