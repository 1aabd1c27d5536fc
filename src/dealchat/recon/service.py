"""Importing statements and confirmations, matching them, and the day's report.

`import_text` reads a file (recon.statements), skips every message imported before (same digest,
or same account, :20: reference and statement number), stores the new lines, matches them against
open settlements (recon.matching) and records each match and each break, a break with an alert.
A statement also makes a `missing_settlement` break of every settlement in its account's currency
due on its closing date that no line matched. All in the caller's transaction, audited.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealchat.execution.models import Settlement
from dealchat.recon import matching, statements
from dealchat.recon.models import ReconBreak, ReconLine, ReconStatement
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new
from dealchat.surveillance.models import Alert
from dealchat.surveillance.service import raise_alert

POLICY = "reconciliation"


@dataclass
class Imported:
    statements: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # :20: references already imported
    lines: int = 0
    matched: int = 0
    breaks: list[ReconBreak] = field(default_factory=list)


def import_text(
    session: Session,
    *,
    text: str,
    source: str,
    accounts: dict[str, str],
    now: dt.datetime,
) -> Imported:
    """Import every message of one file; `accounts` maps a currency to the bank's account id."""
    result = Imported()
    for message in statements.read(text):
        if _known(session, message):
            result.duplicates.append(message.reference)
            continue
        statement = _store(session, message, source, now)
        result.statements.append(statement.id)
        lines = _lines(session, statement, message)
        result.lines += len(lines)
        _match(session, lines, accounts, now, result)
        if message.closing_date is not None:
            _missing(session, message, accounts, now, result)
    return result


def _known(session: Session, message: statements.Message) -> bool:
    return (
        session.scalar(
            select(ReconStatement.id).where(
                or_(
                    ReconStatement.digest == message.digest,
                    (ReconStatement.account == message.account)
                    & (ReconStatement.reference == message.reference)
                    & (ReconStatement.number == message.number)
                    & (ReconStatement.kind == message.kind),
                )
            )
        )
        is not None
    )


def _store(
    session: Session, message: statements.Message, source: str, now: dt.datetime
) -> ReconStatement:
    statement = ReconStatement(
        kind=message.kind,
        account=message.account[:64],
        reference=message.reference[:35],
        number=message.number[:16],
        digest=message.digest,
        source=source[:255],
        imported_at=now,
    )
    record_new(
        session,
        statement,
        event=AuditEvent.RECON_IMPORTED,
        actor="system:recon",
        kind="recon-statement",
        payload={
            "kind": message.kind,
            "account": message.account,
            "reference": message.reference,
            "number": message.number,
            "digest": message.digest,
            "lines": len(message.lines),
            "source": source,
        },
    )
    return statement


def _lines(
    session: Session, statement: ReconStatement, message: statements.Message
) -> list[ReconLine]:
    rows = [
        ReconLine(
            statement_id=statement.id,
            account=statement.account,
            currency=line.currency,
            value_date=line.value_date.isoformat(),
            amount=line.amount,
            reference=line.reference[:40],
            bank_reference=None if line.bank_reference is None else line.bank_reference[:40],
            details=line.details,
        )
        for line in message.lines
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _match(
    session: Session,
    lines: list[ReconLine],
    accounts: dict[str, str],
    now: dt.datetime,
    result: Imported,
) -> None:
    currencies = {line.currency for line in lines}
    open_rows = list(
        session.scalars(
            select(Settlement).where(
                Settlement.state == "open", Settlement.currency.in_(currencies)
            )
        )
    )
    booked = [
        matching.Booked(
            s.id, s.reference, s.currency, s.amount, s.value_date, accounts.get(s.currency)
        )
        for s in open_rows
    ]
    kinds = {row.id: row.statement_id for row in lines}
    confirmations = _confirmation_statements(session, set(kinds.values()))
    seen = [
        matching.Seen(
            id=line.id,
            reference=line.reference,
            texts=(line.bank_reference or "", line.details or ""),
            currency=line.currency,
            amount=line.amount,
            value_date=line.value_date,
            account=line.account,
            confirmation=line.statement_id in confirmations,
            received=now.date(),
        )
        for line in lines
    ]
    outcome = matching.reconcile(booked, seen)
    by_line = {line.id: line for line in lines}
    by_settlement = {row.id: row for row in open_rows}
    for line_id, settlement_id in outcome.matches:
        line, settlement = by_line[line_id], by_settlement[settlement_id]
        line.state, line.settlement_id, settlement.state = "matched", settlement.id, "matched"
        record(
            session,
            event=AuditEvent.RECON_MATCHED,
            actor="system:recon",
            subject=f"settlement:{settlement.id}",
            payload={"line": line.id, "reference": settlement.reference, "amount": line.amount},
        )
        result.matched += 1
    for found in outcome.breaks:
        broken = by_line.get(found.seen_id or "")
        if broken is not None and broken.state == "open":
            broken.state = "break"
        settled = by_settlement.get(found.booked_id or "")
        if settled is not None and settled.state == "open":
            settled.state = "break"  # seen, but not as booked: not missing as well
        day = broken.value_date if broken is not None else ""
        item = (found.seen_id, found.booked_id)
        result.breaks.append(
            _break(session, found.kind, day, item=item, detail=found.detail, now=now)
        )


def _confirmation_statements(session: Session, ids: set[str]) -> set[str]:
    return set(
        session.scalars(
            select(ReconStatement.id).where(
                ReconStatement.id.in_(ids),
                ReconStatement.kind.in_([statements.MT900, statements.MT910]),
            )
        )
    )


def _missing(
    session: Session,
    message: statements.Message,
    accounts: dict[str, str],
    now: dt.datetime,
    result: Imported,
) -> None:
    """Settlements due on the statement's closing date, on its account, that nothing matched."""
    assert message.closing_date is not None
    day = message.closing_date.isoformat()
    currencies = {line.currency for line in message.lines} | {
        currency for currency, account in accounts.items() if account == message.account
    }
    due = session.scalars(
        select(Settlement).where(
            Settlement.state == "open",
            Settlement.value_date == day,
            Settlement.currency.in_(currencies),
        )
    )
    for settlement in due:
        expected = accounts.get(settlement.currency)
        if expected is not None and expected != message.account:
            continue
        detail = (
            f"{settlement.amount:f} {settlement.currency} value {day} ref {settlement.reference}"
            f" is not on statement {message.reference}"
        )
        item = (None, settlement.id)
        result.breaks.append(
            _break(session, "missing_settlement", day, item=item, detail=detail, now=now)
        )


def _break(
    session: Session,
    kind: str,
    day: str,
    *,
    item: tuple[str | None, str | None],
    detail: str,
    now: dt.datetime,
) -> ReconBreak:
    """A break about (a statement line, a settlement), either may be None; audited, alerted."""
    line_id, settlement_id = item
    row = ReconBreak(
        kind=kind,
        day=day,
        line_id=line_id,
        settlement_id=settlement_id,
        detail=detail,
        created_at=now,
    )
    record_new(
        session,
        row,
        event=AuditEvent.RECON_BREAK,
        actor="system:recon",
        kind="recon-break",
        payload={"kind": kind, "day": day, "line": line_id, "settlement": settlement_id,
                 "detail": detail},
    )  # fmt: skip
    raise_alert(
        session,
        Alert(
            kind="recon",
            policy=POLICY,
            rule=kind,
            category="reconciliation",
            severity="high" if kind != "late_confirmation" else "medium",
            subject=f"recon-break:{row.id}",
            detail=json.dumps({"detail": detail, "day": day}),
        ),
    )
    return row


@dataclass(frozen=True)
class Report:
    day: str
    matched: list[tuple[Settlement, ReconLine]]
    breaks: list[ReconBreak]
    open_settlements: list[Settlement]


def report(session: Session, *, day: dt.date) -> Report:
    """The value date's matched items, breaks and settlements nothing has matched yet."""
    iso = day.isoformat()
    pairs = session.execute(
        select(Settlement, ReconLine)
        .join(ReconLine, ReconLine.settlement_id == Settlement.id)
        .where(Settlement.value_date == iso)
        .order_by(Settlement.reference, Settlement.currency)
    ).all()
    breaks = list(
        session.scalars(
            select(ReconBreak).where(ReconBreak.day == iso).order_by(ReconBreak.created_at)
        )
    )
    still_open = list(
        session.scalars(
            select(Settlement)
            .where(Settlement.value_date == iso, Settlement.state == "open")
            .order_by(Settlement.reference)
        )
    )
    return Report(iso, [(s, line) for s, line in pairs], breaks, still_open)
