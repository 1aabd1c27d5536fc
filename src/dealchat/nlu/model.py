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
    CONFIRM = "confirm"
    CANCEL = "cancel"
    STATUS = "status"
    LINK = "link"
    REPORT = "report"
    UPLOAD = "upload"
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
    reason: str | None = None
    missing: tuple[str, ...] = ()
    explanation: tuple[Explained, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_trading(self) -> bool:
        return self.intent in TRADING_KINDS

    def to_dict(self) -> dict[str, object]:
        """The JSON object of NLU.md: the intent and the fields its kind carries."""
        out: dict[str, object] = {"intent": self.intent.value}
        if self.intent is IntentKind.CLARIFY:
            out["reason"] = self.reason
            out["missing"] = list(self.missing)
            return out
        if self.intent in (IntentKind.CANCEL, IntentKind.STATUS):
            out["order_ref"] = self.order_ref
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
        if self.intent is IntentKind.ORDER:
            out["order_type"] = _value(self.order_type)
            out["from_quote"] = self.from_quote
        return out


def _value(item: StrEnum | None) -> str | None:
    return None if item is None else item.value
