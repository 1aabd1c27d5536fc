"""Rule set versions in the database: proposed by one person, in force once another approves.

The YAML file shipped with dealchat (or named in settings) is version 1 until a database version
is active. A proposal is a whole rule set document, validated before it is stored; approving it
retires the previous active version. Nobody approves their own proposal.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor, can
from dealchat.access.rights import Right
from dealchat.controls.definitions import RuleSet, parse_ruleset, ruleset_text
from dealchat.controls.models import RuleSetVersion
from dealchat.errors import DealchatError, ErrorCode
from dealchat.records.events import AuditEvent
from dealchat.records.service import record, record_new

PROPOSED, ACTIVE, RETIRED, REFUSED = "proposed", "active", "retired", "refused"


@lru_cache(maxsize=32)
def _parsed(body: str) -> RuleSet:
    return parse_ruleset(body)


def active_ruleset(session: Session, *, fallback: RuleSet) -> RuleSet:
    """The approved version in force for `fallback.name`, else the file's rule set."""
    body = session.scalar(
        select(RuleSetVersion.body).where(
            RuleSetVersion.name == fallback.name, RuleSetVersion.state == ACTIVE
        )
    )
    return fallback if body is None else _parsed(body)


def propose(
    session: Session, *, text: str, actor: Actor, comment: str, now: dt.datetime, current: RuleSet
) -> RuleSetVersion:
    """Store a new version (validated) awaiting a second person's approval."""
    _require(actor, Right.RULE_EDIT)
    try:
        proposed = parse_ruleset(text)
    except ValueError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, f"invalid rule set: {error}") from error
    latest = session.scalar(
        select(func.max(RuleSetVersion.version)).where(RuleSetVersion.name == proposed.name)
    )
    version = max(int(latest or 0), current.version if current.name == proposed.name else 0) + 1
    body = ruleset_text(proposed.model_copy(update={"version": version}))
    row = RuleSetVersion(
        name=proposed.name,
        version=version,
        body=body,
        sha256=hashlib.sha256(body.encode("utf-8")).hexdigest(),
        state=PROPOSED,
        proposed_by=actor.user_id,
        proposed_at=now,
        comment=comment[:500],
    )
    record_new(
        session,
        row,
        event=AuditEvent.RULESET_PROPOSED,
        actor=actor.audit_name,
        kind="ruleset",
        payload={"name": row.name, "version": version, "sha256": row.sha256, "comment": comment},
    )
    return row


def decide_proposal(
    session: Session, *, version_id: str, actor: Actor, approve: bool, now: dt.datetime
) -> RuleSetVersion:
    """Approve (it takes effect, the previous version retires) or refuse a proposal."""
    _require(actor, Right.RULE_APPROVE)
    row = session.scalar(
        select(RuleSetVersion).where(RuleSetVersion.id == version_id).with_for_update()
    )
    if row is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such rule set version", http_status=404)
    if row.state != PROPOSED:
        raise DealchatError(ErrorCode.CONFLICT, f"version is {row.state}", http_status=409)
    if row.proposed_by == actor.user_id:
        raise DealchatError(
            ErrorCode.FORBIDDEN, "a second person must approve a rule change", http_status=403
        )
    if approve:
        session.execute(
            update(RuleSetVersion)
            .where(RuleSetVersion.name == row.name, RuleSetVersion.state == ACTIVE)
            .values(state=RETIRED)
        )
    row.state, row.decided_by, row.decided_at = (ACTIVE if approve else REFUSED), actor.user_id, now
    record(
        session,
        event=AuditEvent.RULESET_APPROVED if approve else AuditEvent.RULESET_REFUSED,
        actor=actor.audit_name,
        subject=f"ruleset:{row.id}",
        payload={"name": row.name, "version": row.version, "sha256": row.sha256},
    )
    return row


def versions(session: Session, *, name: str) -> list[RuleSetVersion]:
    return list(
        session.scalars(
            select(RuleSetVersion)
            .where(RuleSetVersion.name == name)
            .order_by(RuleSetVersion.version)
        )
    )


def _require(actor: Actor, right: Right) -> None:
    decision = can(actor, right)
    if not decision:
        raise DealchatError(
            ErrorCode.FORBIDDEN, f"needs {right.value}: {decision.rule}", http_status=403
        )
