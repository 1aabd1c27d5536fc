"""Inbound controls on every execution report, pure (seed 002): what a counterparty says must
agree with the order we sent. Each finding is a code and the values that decided it; any finding
holds the order for people to look at, and nothing of that report is booked.

- `side_mismatch`, `instrument_mismatch`: the report is about another trade than our order;
- `overfill`: a fill above what is still open, or a cumulative quantity above the order's;
- `price_outside_limit`: a buy filled above its limit, a sell below it;
- `value_date_mismatch`: the report states a settlement date other than the order's value date;
- `duplicate_fill`: an ExecID already booked for this order, not marked as a possible duplicate;
- `fill_after_end`: a fill for an order already cancelled, expired or rejected.
(`unsolicited`, a report for no order of ours, is decided by the caller, which has no order.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from dealchat.execution.fix.messages import Report
from dealchat.records.chain import decimal_text

ENDED = frozenset({"cancelled", "expired", "rejected", "aborted"})


@dataclass(frozen=True)
class OrderFacts:
    """What the controls compare a report with."""

    side: str
    instrument: str
    quantity: Decimal
    order_type: str
    limit_price: Decimal | None
    value_date: str | None
    state: str
    filled: Decimal
    exec_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Finding:
    code: str
    detail: str


def check_report(order: OrderFacts, report: Report) -> list[Finding]:
    findings: list[Finding] = []
    if report.side is not None and report.side != order.side:
        findings.append(Finding("side_mismatch", f"report {report.side}, order {order.side}"))
    if report.symbol is not None and report.symbol != order.instrument:
        detail = f"report {report.symbol}, order {order.instrument}"
        findings.append(Finding("instrument_mismatch", detail))
    if report.settl_date is not None and order.value_date and report.settl_date != order.value_date:
        detail = f"report {report.settl_date}, order {order.value_date}"
        findings.append(Finding("value_date_mismatch", detail))
    if report.is_fill:
        findings += _fill_findings(order, report)
    elif report.cum_qty is not None and report.cum_qty > order.quantity:
        detail = f"cumulative {_n(report.cum_qty)} of an order for {_n(order.quantity)}"
        findings.append(Finding("overfill", detail))
    return findings


def _fill_findings(order: OrderFacts, report: Report) -> list[Finding]:
    assert report.last_qty is not None
    findings: list[Finding] = []
    if report.exec_id in order.exec_ids:
        findings.append(Finding("duplicate_fill", f"ExecID {report.exec_id} was booked already"))
        return findings
    if order.state in ENDED:
        findings.append(Finding("fill_after_end", f"a fill for an order {order.state}"))
    open_quantity = order.quantity - order.filled
    if report.last_qty > open_quantity or (
        report.cum_qty is not None and report.cum_qty > order.quantity
    ):
        detail = f"fill of {_n(report.last_qty)} with {_n(open_quantity)} open"
        findings.append(Finding("overfill", detail))
    if report.last_px is None or report.last_px <= 0:
        findings.append(Finding("price_outside_limit", "a fill without a price"))
    elif order.limit_price is not None and _worse(order.side, report.last_px, order.limit_price):
        detail = f"{order.side} at {_n(report.last_px)}, limit {_n(order.limit_price)}"
        findings.append(Finding("price_outside_limit", detail))
    return findings


def _worse(side: str, price: Decimal, limit: Decimal) -> bool:
    return price > limit if side == "buy" else price < limit


def _n(value: Decimal) -> str:
    return decimal_text(value)
