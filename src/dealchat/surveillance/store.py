"""Lexicon policies in the database: versions proposed by one person, approved by another.

A proposal is validated on the way in (the same loader as the bundled YAML). Approval makes a
version the active one of its name (the previous active version is superseded); nobody approves
their own proposal. The active set is the bundled policies, each replaced by an active database
policy of the same name, plus the other active database policies; it is compiled once per set
of versions and kept.

Which versions are active is read once per transaction, and a process trusts what it read for
`FRESH_FOR` (one second) before reading again: a version approved on another node scans
messages from at most a second later (each alert names the version that raised it; `backtest`
rescans any period); an approval in this process is seen at once after its commit.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from functools import cache, partial
from weakref import WeakKeyDictionary

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.db.base import utcnow
from dealchat.db.session import after_commit, per_transaction
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new
from dealchat.surveillance import guard, policies
from dealchat.surveillance.lexicon import Lexicon, Policy
from dealchat.surveillance.models import LexiconVersion

PROPOSED, ACTIVE, SUPERSEDED, REJECTED = "proposed", "active", "superseded", "rejected"
MAX_SOURCE = 1_000_000
_COMPILED: OrderedDict[tuple[str, ...], Lexicon] = OrderedDict()
_KEEP = 8
FRESH_FOR = 1.0  # seconds this process trusts the set of active versions it last read
_LAST_READ: WeakKeyDictionary[Engine, tuple[float, Lexicon]] = WeakKeyDictionary()


def load_checked(source: str, *, version: int | None = None) -> Policy:
    """The policy in `source` (as `version` when given), or a BAD_REQUEST naming every problem."""
    if len(source) > MAX_SOURCE:
        raise guard.bad(f"a policy is at most {MAX_SOURCE} characters")
    try:
        return policies.load(source, version=version)
    except (policies.PolicyError, ValueError) as error:
        raise guard.bad(f"invalid policy: {error}") from None


def propose(
    session: Session, *, actor: Actor, source: str, note: str | None = None
) -> LexiconVersion:
    guard.check(actor, Right.LEXICON_EDIT)
    policy = load_checked(source)
    latest = session.scalar(
        select(func.max(LexiconVersion.version)).where(LexiconVersion.name == policy.name)
    )
    row = LexiconVersion(
        name=policy.name,
        version=(latest or 0) + 1,
        source=source,
        state=PROPOSED,
        proposed_by=actor.user_id,
        proposed_at=utcnow(),
        note=note,
    )
    record_new(
        session,
        row,
        event=AuditEvent.LEXICON_PROPOSED,
        actor=actor.audit_name,
        kind="lexicon",
        payload={
            "name": row.name,
            "version": row.version,
            "rules": len(policy.rules),
            "source_sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
            "note": note,
        },
    )
    return row


def version_of(session: Session, *, name: str, version: int) -> LexiconVersion:
    row = session.scalar(
        select(LexiconVersion).where(LexiconVersion.name == name, LexiconVersion.version == version)
    )
    if row is None:
        raise guard.missing(f"no lexicon policy {name} version {version}")
    return row


def _decide(session: Session, *, actor: Actor, name: str, version: int) -> LexiconVersion:
    guard.check(actor, Right.RULE_APPROVE)
    row = version_of(session, name=name, version=version)
    if row.state != PROPOSED:
        raise guard.conflict(f"{name} v{version} is {row.state}, not proposed", state=row.state)
    if row.proposed_by == actor.user_id:
        raise guard.forbidden("a second person decides: you proposed this version")
    row.decided_by, row.decided_at = actor.user_id, utcnow()
    return row


def approve(session: Session, *, actor: Actor, name: str, version: int) -> LexiconVersion:
    """Switch a proposed version on; the name's previously active version is superseded."""
    row = _decide(session, actor=actor, name=name, version=version)
    previous = session.scalars(
        select(LexiconVersion).where(LexiconVersion.name == name, LexiconVersion.state == ACTIVE)
    ).all()
    for old in previous:
        old.state = SUPERSEDED
    row.state = ACTIVE
    session.info.pop(_IN_FORCE, None)  # this transaction reads the new set from now on
    _forget_read(session)
    after_commit(session, partial(_forget_read, session))
    record(
        session,
        event=AuditEvent.LEXICON_APPROVED,
        actor=actor.audit_name,
        subject=f"lexicon:{row.id}",
        payload={
            "name": name,
            "version": version,
            "proposed_by": row.proposed_by,
            "superseded": [old.version for old in previous],
        },
    )
    return row


def reject(session: Session, *, actor: Actor, name: str, version: int, note: str) -> LexiconVersion:
    if not note.strip():
        raise guard.bad("say why the version is rejected")
    row = _decide(session, actor=actor, name=name, version=version)
    row.state, row.note = REJECTED, note.strip()[:2000]
    record(
        session,
        event=AuditEvent.LEXICON_REJECTED,
        actor=actor.audit_name,
        subject=f"lexicon:{row.id}",
        payload={"name": name, "version": version, "note": row.note},
    )
    return row


def versions(session: Session, *, actor: Actor, name: str | None = None) -> list[LexiconVersion]:
    guard.check_any(actor, Right.LEXICON_EDIT, Right.RULE_APPROVE, Right.ALERT_READ)
    query = select(LexiconVersion).order_by(LexiconVersion.name, LexiconVersion.version)
    if name is not None:
        query = query.where(LexiconVersion.name == name)
    return list(session.scalars(query))


@cache
def _bundled() -> tuple[Policy, ...]:
    return tuple(policies.bundled())


def lexicon_in_force(session: Session) -> Lexicon | None:
    """The lexicon this transaction already holds or this process read under `FRESH_FOR` ago;
    None when it must be read (`active_lexicon`)."""
    held = session.info.get(_IN_FORCE)
    if held is not None:
        return held  # type: ignore[no-any-return]
    last = _LAST_READ.get(_engine(session))
    if last is None or time.monotonic() >= last[0]:
        return None
    session.info[_IN_FORCE] = last[1]
    return last[1]


def active_lexicon(session: Session) -> Lexicon:
    """The lexicon in force now (compiled once per set of active versions; read once per
    transaction: the desk's screen and the scan of the message it answers share it)."""
    held = session.info.get(_IN_FORCE)
    if held is not None:
        return held  # type: ignore[no-any-return]
    read_at = time.monotonic()
    key = tuple(
        session.scalars(
            select(LexiconVersion.id)
            .where(LexiconVersion.state == ACTIVE)
            .order_by(LexiconVersion.name)
        )
    )
    found = _COMPILED.get(key)
    if found is not None:
        _COMPILED.move_to_end(key)
    else:
        found = _compile(session, key)
    session.info[_IN_FORCE] = found
    _LAST_READ[_engine(session)] = (read_at + FRESH_FOR, found)
    return found


def _forget_read(session: Session) -> None:
    _LAST_READ.pop(_engine(session), None)


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _compile(session: Session, key: tuple[str, ...]) -> Lexicon:
    rows = session.execute(
        select(LexiconVersion.version, LexiconVersion.source)
        .where(LexiconVersion.id.in_(key))
        .order_by(LexiconVersion.name)
    ).all()
    stored = [policies.load(row.source, version=row.version) for row in rows]
    names = {policy.name for policy in stored}
    compiled = Lexicon([*(p for p in _bundled() if p.name not in names), *stored])
    _COMPILED[key] = compiled
    if len(_COMPILED) > _KEEP:
        _COMPILED.popitem(last=False)
    return compiled


_IN_FORCE = per_transaction("dealchat_lexicon_in_force")  # the lexicon this transaction read
