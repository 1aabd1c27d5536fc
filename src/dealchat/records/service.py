"""Append to and verify the audit log. Appends happen in the caller's transaction."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealchat.db.base import utcnow
from dealchat.records.chain import GENESIS, canonical_json, entry_hash
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry, AuditHead

_BATCH = 1000


def record(
    session: Session, *, event: AuditEvent, actor: str, subject: str, payload: dict[str, Any]
) -> AuditEntry:
    """Append one entry, chained to the last. Locks the head row so appends never interleave."""
    seq, prev = _advance_head(session)
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        event=event.value,
        actor=actor,
        subject=subject,
        payload=canonical_json(payload),
        prev_hash=prev,
    )
    entry.hash = _hash_of(entry)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    return entry


def _hash_of(entry: AuditEntry) -> str:
    return entry_hash(
        seq=entry.seq,
        prev_hash=entry.prev_hash,
        at=entry.at,
        event=entry.event,
        actor=entry.actor,
        subject=entry.subject,
        payload=entry.payload,
    )


def _advance_head(session: Session) -> tuple[int, str]:
    """Bump the head's sequence first: it takes the row lock (PostgreSQL) or write lock (SQLite)."""
    bumped = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
    )
    if bumped.rowcount == 0:  # type: ignore[attr-defined]
        raise RuntimeError("audit chain head missing: database not migrated, or tampered with")
    seq, prev = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
    ).one()
    return int(seq), str(prev)


class Identified(Protocol):
    @property
    def id(self) -> str: ...


def record_new(
    session: Session,
    row: Identified,
    *,
    event: AuditEvent,
    actor: str,
    kind: str,
    payload: dict[str, Any],
) -> AuditEntry:
    """Insert `row` and audit its creation as `kind:<id>`, in the same transaction."""
    session.add(row)
    session.flush()
    return record(session, event=event, actor=actor, subject=f"{kind}:{row.id}", payload=payload)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain: contiguous sequence, each hash recomputed, each link, and the head."""
    expected_seq, prev, checked = 1, GENESIS, 0
    for entry in _entries(session):
        problem = _check(entry, expected_seq, prev)
        if problem is not None:
            return VerifyResult(False, checked, min(entry.seq, expected_seq), problem)
        expected_seq, prev, checked = entry.seq + 1, entry.hash, checked + 1
    return _check_head(session, expected_seq - 1, prev, checked)


def _entries(session: Session) -> Iterator[AuditEntry]:
    after = 0
    while True:
        batch = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > after).order_by(AuditEntry.seq).limit(_BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        after = batch[-1].seq


def _check(entry: AuditEntry, expected_seq: int, prev: str) -> str | None:
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (next stored entry is {entry.seq})"
    if not hmac.compare_digest(entry.prev_hash, prev):
        return f"entry {entry.seq} does not link to entry {entry.seq - 1}"
    digest = _hash_of(entry)
    if not hmac.compare_digest(digest, entry.hash):
        return f"entry {entry.seq} was altered (its hash does not match its content)"
    return None


def _check_head(session: Session, last_seq: int, last_hash: str, checked: int) -> VerifyResult:
    head = session.get(AuditHead, 1)
    if head is None:
        if checked == 0:
            return VerifyResult(True, 0)
        return VerifyResult(False, checked, last_seq, "the chain head is missing")
    if head.seq != last_seq or not hmac.compare_digest(head.hash, last_hash):
        return VerifyResult(
            False,
            checked,
            last_seq + 1,
            f"entries after {last_seq} are missing (head is at {head.seq})",
        )
    return VerifyResult(True, checked)
