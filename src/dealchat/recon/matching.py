"""Matching statement lines to booked settlements, pure.

A line matches a booking with the same reference (our ClOrdID, in the line's customer or bank
reference or its details), currency and account (when the bank named its accounts): with the
same amount and value date it is matched; with another amount it is an `amount_mismatch`; with
another value date it matches but is a `value_date_mismatch`. A line no booking explains is an
`unknown_line`; a confirmation (MT900/910) received after its value date is a
`late_confirmation`. Bookings due on a statement's date that no line shows are
`missing_settlement` (decided by the caller, which knows the statement's date).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Booked:
    id: str
    reference: str
    currency: str
    amount: Decimal
    value_date: str
    account: str | None


@dataclass(frozen=True)
class Seen:
    id: str
    reference: str
    texts: tuple[str, ...]  # bank reference, details: where a reference may also stand
    currency: str
    amount: Decimal
    value_date: str
    account: str
    confirmation: bool
    received: dt.date


@dataclass(frozen=True)
class Break:
    kind: str
    seen_id: str | None
    booked_id: str | None
    detail: str


@dataclass
class Outcome:
    matches: list[tuple[str, str]] = field(default_factory=list)  # (seen, booked)
    breaks: list[Break] = field(default_factory=list)


def reconcile(booked: list[Booked], seen: list[Seen]) -> Outcome:
    outcome = Outcome()
    free = {b.id: b for b in booked}
    for line in seen:
        candidates = [b for b in free.values() if _same_trade(b, line)]
        exact = [b for b in candidates if b.amount == line.amount]
        if exact:
            chosen = next((b for b in exact if b.value_date == line.value_date), exact[0])
            del free[chosen.id]
            outcome.matches.append((line.id, chosen.id))
            if chosen.value_date != line.value_date:
                detail = f"booked value {chosen.value_date}, statement value {line.value_date}"
                outcome.breaks.append(Break("value_date_mismatch", line.id, chosen.id, detail))
            if line.confirmation and line.received > dt.date.fromisoformat(line.value_date):
                detail = f"value {line.value_date}, confirmed on {line.received.isoformat()}"
                outcome.breaks.append(Break("late_confirmation", line.id, chosen.id, detail))
        elif candidates:
            chosen = candidates[0]
            del free[chosen.id]
            detail = f"booked {chosen.amount:f} {chosen.currency}, statement {line.amount:f}"
            outcome.breaks.append(Break("amount_mismatch", line.id, chosen.id, detail))
        else:
            detail = f"{line.amount:f} {line.currency} value {line.value_date} ref {line.reference}"
            outcome.breaks.append(Break("unknown_line", line.id, None, detail))
    return outcome


def _same_trade(booked: Booked, line: Seen) -> bool:
    if booked.currency != line.currency:
        return False
    if booked.account is not None and booked.account != line.account:
        return False
    if booked.reference == line.reference or line.reference.startswith(f"{booked.reference}."):
        return True  # a ClOrdID of a cancel/replace is the ref and a suffix
    return any(booked.reference in text for text in line.texts if text)
