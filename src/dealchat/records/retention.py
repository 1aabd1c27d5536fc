"""Retention classes, legal holds and the retention run.

Each data key belongs to a class by its scope (`conversation:` -> chat, `order:` -> orders,
`access:` -> access_logs); its period (whole years, from settings) runs from the last content
sealed under it. `run` crypto-erases every expired scope that no active legal hold covers, each
with a tombstone entry, and returns what it erased and what a hold kept, as JSON-ready data.
A hold names a client, an internal user, a conversation or an order; which conversation and order
scopes it covers is resolved by the caller's `HoldResolver` (records knows no conversations or
orders). A hold on a client or a user also keeps that person's access-log scopes
(`access:<user id>:<YYYY-MM>`, see `records.personal`).
Personal data kept in clear outside the log past its purpose (a lockout's source addresses, spent
links and proofs, the identifiers of erased conversations) is deleted or cleared by the caller's
`sweeps`, run in their given order after the erasures and in the same transaction: how many rows
each changed is in the report and in the run's one audit entry, never one entry per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.records import personal
from dealchat.records.envelope import Envelope
from dealchat.records.envelope_models import DataKey
from dealchat.records.events import AuditEvent
from dealchat.records.retention_models import LegalHold
from dealchat.records.service import record, record_new, record_now

HOLD_KINDS = ("client", "user", "conversation", "order")
PERSON_KINDS = ("client", "user")  # their target is a user id: the hold keeps their access log
CLASS_OF_PREFIX = {"conversation": "chat", "order": "orders", "access": "access_logs"}

HoldResolver = Callable[[Session, LegalHold], set[str]]
Sweep = Callable[[Session, dt.datetime], int]  # deletes or clears what outlived its use; how many


def add_years(moment: dt.datetime, years: int) -> dt.datetime:
    """The same instant `years` later; 29 February becomes 28 February in a common year."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


@dataclass(frozen=True)
class RetentionPolicy:
    years: Mapping[str, int]

    def class_of(self, scope: str) -> str | None:
        return CLASS_OF_PREFIX.get(scope.partition(":")[0])

    def expires_at(self, scope: str, last_activity: dt.datetime) -> dt.datetime | None:
        """When content of `scope` may go; None for a scope of no known class (kept)."""
        kind = self.class_of(scope)
        if kind is None or kind not in self.years:
            return None
        return add_years(last_activity, self.years[kind])


def literal_scopes(session: Session, hold: LegalHold) -> set[str]:
    """The scopes a hold names directly (`conversation:<id>`, `order:<id>`, `client:<id>`)."""
    return {f"{hold.kind}:{hold.target}"}


def set_hold(
    session: Session, *, kind: str, target: str, reason: str, actor: str, now: dt.datetime
) -> LegalHold:
    """Put a client, an internal user, a conversation or an order on legal hold; audited with
    its reason."""
    if kind not in HOLD_KINDS:
        raise ValueError(f"a legal hold names one of {', '.join(HOLD_KINDS)}, not {kind!r}")
    if not target.strip() or not reason.strip():
        raise ValueError("a legal hold needs a target and a reason")
    hold = LegalHold(
        kind=kind, target=target.strip(), reason=reason.strip(), set_by=actor, set_at=now
    )
    record_new(
        session,
        hold,
        event=AuditEvent.LEGALHOLD_SET,
        actor=actor,
        kind="legalhold",
        payload={"kind": kind, "target": hold.target, "reason": hold.reason},
    )
    return hold


def lift_hold(
    session: Session, *, hold_id: str, reason: str, actor: str, now: dt.datetime
) -> LegalHold:
    """Lift an active hold; audited with its reason. Expired content may then be erased."""
    hold = session.get(LegalHold, hold_id)
    if hold is None or hold.lifted_at is not None:
        raise LookupError(f"no active legal hold {hold_id}")
    if not reason.strip():
        raise ValueError("lifting a legal hold needs a reason")
    hold.lifted_at, hold.lifted_by, hold.lift_reason = now, actor, reason.strip()
    record(
        session,
        event=AuditEvent.LEGALHOLD_LIFTED,
        actor=actor,
        subject=f"legalhold:{hold.id}",
        payload={"kind": hold.kind, "target": hold.target, "reason": hold.lift_reason},
    )
    return hold


def active_holds(session: Session) -> list[LegalHold]:
    return list(
        session.scalars(
            select(LegalHold).where(LegalHold.lifted_at.is_(None)).order_by(LegalHold.set_at)
        )
    )


def _held_scopes(session: Session, resolve: HoldResolver) -> dict[str, list[str]]:
    held: dict[str, list[str]] = {}
    for hold in active_holds(session):
        for scope in (
            resolve(session, hold) | literal_scopes(session, hold) | _person(session, hold)
        ):
            held.setdefault(scope, []).append(hold.id)
    return held


def _person(session: Session, hold: LegalHold) -> set[str]:
    """The access-log scopes of the person a client or user hold names."""
    return personal.scopes_of(session, hold.target) if hold.kind in PERSON_KINDS else set()


def _last_activity(session: Session) -> dict[str, dt.datetime]:
    """Per scope with a live data key: the last time content was sealed under it."""
    last: dict[str, dt.datetime] = {}
    for row in session.scalars(select(DataKey).where(DataKey.wrapped.is_not(None))):
        moment = row.last_sealed_at or row.created_at
        if row.scope not in last or moment > last[row.scope]:
            last[row.scope] = moment
    return last


def run(
    session: Session,
    *,
    envelope: Envelope,
    policy: RetentionPolicy,
    resolve: HoldResolver = literal_scopes,
    sweeps: Mapping[str, Sweep] | None = None,
    now: dt.datetime,
    actor: str,
) -> dict[str, Any]:
    """Erase every expired, unheld scope, then run each sweep in order; report what was erased,
    what a hold kept and how many rows each sweep deleted or cleared."""
    held = _held_scopes(session, resolve)
    erased: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    for scope, last in sorted(_last_activity(session).items()):
        expires = policy.expires_at(scope, last)
        if expires is None or expires > now:
            continue
        item = {"scope": scope, "class": policy.class_of(scope), "last_activity": last}
        item["expired_at"] = expires
        if scope in held:
            kept.append({**item, "holds": sorted(held[scope])})
            continue
        erasure = envelope.destroy(
            session, scope=scope, reason="retention period ended", actor=actor, now=now
        )
        erased.append(
            {**item, "data_keys": list(erasure.data_keys), "audit_seq": erasure.audit_seq}
        )
    purged = {name: sweep(session, now) for name, sweep in (sweeps or {}).items()}
    summary = {
        "erased": len(erased),
        "held": len(kept),
        "purged": purged,
        "policy": dict(policy.years),
    }
    entry = record_now(
        session,
        event=AuditEvent.RETENTION_RUN,
        actor=actor,
        subject="retention",
        payload={**summary, "at": now},
    )
    return {
        "ran_at": now,
        "audit_seq": entry.seq,
        **summary,
        "erased_scopes": erased,
        "held_scopes": kept,
    }
