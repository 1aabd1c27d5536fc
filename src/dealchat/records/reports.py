"""Audit reports: the entries of a time window, for every subject or only some (a client's or a
conversation's), as JSON, CSV or PDF (`reports_pdf.py`), or as a verifiable bundle
(`reports_bundle.py`). Which subjects a client or conversation covers, and the readable text of a
message entry, come from the caller (records knows no conversations); entries are exported as
stored, so a message entry carries the digest of its ciphertext and, beside it, its text.
Details sealed in an entry (`records.personal`: a username, an address, a chat handle) are
opened for the report's reader in JSON, CSV and PDF (`"erased": true` once retention destroyed
their key); the bundle keeps every entry exactly as stored, ciphertext included, since its leaf
commits to that.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry
from dealchat.records.personal import reveal
from dealchat.records.service import record

FORMATS = ("json", "csv", "pdf", "bundle")
_BATCH = 1000

Texts = Callable[[Session, Sequence[AuditEntry]], Mapping[int, str]]


def no_texts(session: Session, entries: Sequence[AuditEntry]) -> Mapping[int, str]:
    return {}


@dataclass(frozen=True)
class ReportQuery:
    start: dt.datetime | None = None
    end: dt.datetime | None = None  # exclusive
    subjects: frozenset[str] | None = None  # None: every subject
    actors: frozenset[str] = frozenset()
    filters: Mapping[str, str] = field(default_factory=dict)  # as asked, echoed in the report
    # A selection (a search's hits) holds chosen entries: no subject's stream is complete in it.
    selection: bool = False
    title: str = "dealchat audit report"


@dataclass(frozen=True)
class ReportRow:
    seq: int
    at: dt.datetime
    event: str
    actor: str
    subject: str
    payload: str  # canonical JSON as the reader sees it: sealed details opened, or erased
    text: str | None = None  # a message's words, decrypted for the reader (not part of proofs)

    def as_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "event": self.event,
            "actor": self.actor,
            "subject": self.subject,
            "payload": json.loads(self.payload),
        }
        if self.text is not None:
            row["text"] = self.text
        return row


@dataclass(frozen=True)
class Report:
    query: ReportQuery
    generated_at: dt.datetime
    rows: tuple[ReportRow, ...]
    entries: tuple[AuditEntry, ...]

    def header(self) -> dict[str, Any]:
        head: dict[str, Any] = {
            "generated_at": self.generated_at.isoformat(),
            "from": None if self.query.start is None else self.query.start.isoformat(),
            "to": None if self.query.end is None else self.query.end.isoformat(),
            "filters": dict(self.query.filters),
            "entries": len(self.rows),
        }
        if self.query.selection:
            head["selection"] = True  # chosen entries, not every entry of their subjects
        return head


def check_window(start: dt.datetime | None, end: dt.datetime | None) -> None:
    for moment in (start, end):
        if moment is not None and moment.tzinfo is None:
            raise ValueError("report times need a time zone, e.g. 2026-11-24T00:00:00Z")
    if start is not None and end is not None and end <= start:
        raise ValueError("'to' must be after 'from'")


def _matching(session: Session, query: ReportQuery) -> Iterator[AuditEntry]:
    conditions = []
    if query.start is not None:
        conditions.append(AuditEntry.at >= query.start)
    if query.end is not None:
        conditions.append(AuditEntry.at < query.end)
    if query.subjects is not None:
        conditions.append(
            or_(AuditEntry.subject.in_(query.subjects), AuditEntry.actor.in_(query.actors))
        )
    after = 0
    while True:
        batch = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.seq > after, *conditions)
            .order_by(AuditEntry.seq)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


def build(
    session: Session, *, query: ReportQuery, now: dt.datetime, texts: Texts = no_texts
) -> Report:
    """The report's entries, in log order, with the readable text of message entries."""
    check_window(query.start, query.end)
    return of_entries(session, tuple(_matching(session, query)), query=query, now=now, texts=texts)


def of_entries(
    session: Session,
    entries: Sequence[AuditEntry],
    *,
    query: ReportQuery,
    now: dt.datetime,
    texts: Texts = no_texts,
) -> Report:
    """A report of entries the caller chose (in log order), e.g. a search's hits."""
    entries = tuple(sorted(entries, key=lambda entry: entry.seq))
    words = texts(session, entries)
    rows = tuple(
        ReportRow(e.seq, e.at, e.event, e.actor, e.subject, opened(session, e), words.get(e.seq))
        for e in entries
    )
    return Report(query, now, rows, entries)


def opened(session: Session, entry: AuditEntry) -> str:
    """The entry's payload with its sealed details opened (as stored when it has none)."""
    if '"sealed":' not in entry.payload:
        return entry.payload
    return canonical_json(reveal(session, json.loads(entry.payload)))


def audit_export(session: Session, report: Report, *, actor: str, fmt: str) -> None:
    """Exporting a report is itself recorded: who, which window and filters, how many entries."""
    record(
        session,
        event=AuditEvent.REPORT_EXPORTED,
        actor=actor,
        subject="report",
        payload={**report.header(), "format": fmt},
    )


def as_json(report: Report) -> bytes:
    body = {**report.header(), "rows": [row.as_dict() for row in report.rows]}
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


CSV_COLUMNS = ("seq", "at", "event", "actor", "subject", "text", "payload")


def as_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        cells = [row.seq, row.at.isoformat(), row.event, row.actor, row.subject]
        writer.writerow(
            [*cells, _cell(row.text or ""), _cell(canonical_json(json.loads(row.payload)))]
        )
    return out.getvalue().encode("utf-8")


def _cell(text: str) -> str:
    """No spreadsheet formula injection: a cell that starts like a formula gets a quote."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
