"""Roles, grants and assignments in the database, and audited authorisation decisions.

Every change is audited in the caller's transaction. Nobody grants a right they do not hold
(`policy.can_grant`): creating a role, adding a grant and assigning a role to a user are all
granting. `actor_for` turns a user and the factors it logged in with into the pure `Actor`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from dealchat.access import guards
from dealchat.access.defaults import DEFAULT_CONDITIONS, DEFAULT_ROLES
from dealchat.access.models import Role, RoleAssignment, RoleGrant
from dealchat.access.policy import (
    Actor,
    Conditions,
    Decision,
    Grant,
    Resource,
    can,
    can_grant,
    can_list,
)
from dealchat.access.rights import CLIENT_RIGHTS, Right
from dealchat.db.base import utcnow
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.models import User
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.service import record, record_new

ROLE_NAME = re.compile(r"[a-z][a-z0-9_-]{1,63}")
ATTRIBUTES = (
    "desk",
    "region",
    "client_book",
)  # what an administrator sets on a user (User.attributes)
# What a grant may be conditioned on: those, and "rm", a client's relationship manager (its
# value `self`: the acting user is the RM; User.owner_id).
CONDITION_ATTRIBUTES = (*ATTRIBUTES, "rm")
VALUE = re.compile(r"[A-Za-z0-9._:-]{1,32}")
DECISIONS_KEY = "dealchat_access_decisions"
SYSTEM = "system"


def system_actor() -> Actor:
    """The host operator bootstrapping an empty database (seed, first admin): holds every right."""
    grants = tuple(Grant(right, "bootstrap") for right in Right)
    return Actor(user_id=SYSTEM, username=SYSTEM, kind="internal", grants=grants)


def conditions_text(conditions: Mapping[str, Iterable[str]] | None) -> str:
    """Validated canonical JSON for a grant's conditions: known attributes, sorted values."""
    cleaned: dict[str, list[str]] = {}
    for name, values in (conditions or {}).items():
        if name not in CONDITION_ATTRIBUTES:
            known = ", ".join(CONDITION_ATTRIBUTES)
            raise _bad(f"condition on unknown attribute {name!r}; use {known}")
        listed = sorted(set(values))
        if not listed or not all(VALUE.fullmatch(value) for value in listed):
            raise _bad(f"condition {name}: 1-32 characters of A-Za-z0-9._:- per value")
        cleaned[name] = listed
    return json.dumps(cleaned, sort_keys=True, separators=(",", ":"))


def parse_conditions(text: str) -> Conditions:
    loaded: dict[str, list[str]] = json.loads(text)
    return {name: frozenset(values) for name, values in loaded.items()}


def parse_right(name: str) -> Right:
    try:
        return Right(name)
    except ValueError as error:
        raise _bad(f"unknown right {name!r}") from error


def actor_for(session: Session, user: User, *, factors: Iterable[str] = ()) -> Actor:
    """The pure Actor: the user's kind and the grants of every role it holds."""
    rows = session.execute(
        select(RoleGrant.right, RoleGrant.conditions, Role.name)
        .join(Role, Role.id == RoleGrant.role_id)
        .join(RoleAssignment, RoleAssignment.role_id == Role.id)
        .where(RoleAssignment.user_id == user.id)
        .order_by(Role.name, RoleGrant.right, RoleGrant.conditions)
    ).all()
    grants = tuple(
        Grant(Right(right), role, parse_conditions(conditions))
        for right, conditions, role in rows
        if right in Right.__members__.values()
    )
    return Actor(
        user_id=user.id,
        username=user.username,
        kind=user.kind,
        grants=grants,
        factors=tuple(factors),
    )


def check_manage(session: Session, actor: Actor, right: Right) -> None:
    """Raise FORBIDDEN unless `actor` holds `right`. The edge (require, the CLI) has logged the
    decision that let the call in; a refusal here is logged too."""
    if not can(actor, right):
        decide(session, actor=actor, right=right, context=AccessContext("service"))
        raise DealchatError(ErrorCode.FORBIDDEN, f"needs {right.value}", http_status=403)


def seed_defaults(session: Session) -> list[str]:
    """Create the default roles and grants that are missing (idempotent); returns what was added."""
    system, added = system_actor(), []
    for name, (description, rights) in DEFAULT_ROLES.items():
        role = session.scalar(select(Role).where(Role.name == name))
        if role is None:
            role = create_role(session, actor=system, name=name, description=description)
            added.append(f"role {name}")
        conditions = DEFAULT_CONDITIONS.get(name, {})
        wanted = parse_conditions(conditions_text(conditions))
        held = {g.right for g in grants_of(session, role) if g.conditions == wanted}
        for right in sorted(rights - held):
            add_grant(session, actor=system, role=name, right=right, conditions=conditions)
            added.append(f"{name}: {right.value}")
    return added


def set_display_name(session: Session, *, actor: Actor, username: str, name: str) -> User:
    """How the desk signs a bank user's messages to clients ("Dan Lee"). Audited."""
    check_manage(session, actor, Right.USER_MANAGE)
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= 100 or not cleaned.isprintable():
        raise _bad("a display name is 1-100 printable characters")
    user = user_named(session, username)
    user.display_name = cleaned
    record(
        session,
        event=AuditEvent.USER_ATTRIBUTES_SET,
        actor=actor.audit_name,
        subject=f"user:{user.id}",
        payload={"display_name": cleaned},
    )
    return user


def set_attributes(
    session: Session, *, actor: Actor, username: str, attributes: Mapping[str, str | None]
) -> User:
    """Set a user's desk, region, client book (what grant conditions and controls read)."""
    check_manage(session, actor, Right.USER_MANAGE)
    user = user_named(session, username)
    for name, value in attributes.items():
        if name not in ATTRIBUTES:
            raise _bad(f"unknown attribute {name!r}; use {', '.join(ATTRIBUTES)}")
        if value is not None and not VALUE.fullmatch(value):
            raise _bad(f"{name}: 1-32 characters of A-Za-z0-9._:-")
        setattr(user, name, value)
    record(
        session,
        event=AuditEvent.USER_ATTRIBUTES_SET,
        actor=actor.audit_name,
        subject=f"user:{user.id}",
        payload={"attributes": dict(attributes)},
    )
    return user


def _check_grant(actor: Actor, grant: Grant) -> None:
    if not can_grant(actor, grant):
        raise DealchatError(
            ErrorCode.FORBIDDEN,
            f"cannot grant {grant.right.value}: nobody grants a right they do not hold",
            http_status=403,
            data={"right": grant.right.value},
        )


def create_role(session: Session, *, actor: Actor, name: str, description: str = "") -> Role:
    check_manage(session, actor, Right.ROLE_MANAGE)
    if not ROLE_NAME.fullmatch(name):
        raise _bad("role name: 2-64 of a-z 0-9 _ -, starting with a letter")
    if session.scalar(select(Role.id).where(Role.name == name)) is not None:
        raise DealchatError(ErrorCode.CONFLICT, "role exists", http_status=409)
    role = Role(name=name, description=description[:255], created_at=utcnow())
    record_new(
        session,
        role,
        event=AuditEvent.ROLE_CREATED,
        actor=actor.audit_name,
        kind="role",
        payload={"name": name, "description": role.description},
    )
    return role


def role_named(session: Session, name: str) -> Role:
    role = session.scalar(select(Role).where(Role.name == name))
    if role is None:
        raise DealchatError(ErrorCode.NOT_FOUND, f"no role {name!r}", http_status=404)
    return role


def add_grant(
    session: Session,
    *,
    actor: Actor,
    role: str,
    right: Right,
    conditions: Mapping[str, Iterable[str]] | None = None,
) -> RoleGrant:
    check_manage(session, actor, Right.ROLE_MANAGE)
    text = conditions_text(conditions)
    target = role_named(session, role)
    _check_grant(actor, Grant(right, role, parse_conditions(text)))
    guards.check_client_grant(session, role=target, right=right)
    exists = session.scalar(
        select(RoleGrant.id).where(
            RoleGrant.role_id == target.id,
            RoleGrant.right == right.value,
            RoleGrant.conditions == text,
        )
    )
    if exists is not None:
        raise DealchatError(ErrorCode.CONFLICT, "the role has this grant", http_status=409)
    row = RoleGrant(role_id=target.id, right=right.value, conditions=text, created_at=utcnow())
    record_new(
        session,
        row,
        event=AuditEvent.GRANT_ADDED,
        actor=actor.audit_name,
        kind="grant",
        payload={"role": role, "right": right.value, "conditions": json.loads(text)},
    )
    return row


def remove_grant(session: Session, *, actor: Actor, grant_id: str) -> None:
    """Taking a grant away is also limited to what one holds (no revoking a superior's rights)."""
    check_manage(session, actor, Right.ROLE_MANAGE)
    row = session.get(RoleGrant, grant_id)
    if row is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such grant", http_status=404)
    role = session.get(Role, row.role_id)
    assert role is not None
    _check_grant(actor, Grant(parse_right(row.right), role.name, parse_conditions(row.conditions)))
    _keep_an_administrator(session, actor, grant=row.id)
    session.delete(row)
    record(
        session,
        event=AuditEvent.GRANT_REMOVED,
        actor=actor.audit_name,
        subject=f"grant:{grant_id}",
        payload={"role": role.name, "right": row.right, "conditions": json.loads(row.conditions)},
    )


def delete_role(session: Session, *, actor: Actor, name: str) -> None:
    check_manage(session, actor, Right.ROLE_MANAGE)
    role = role_named(session, name)
    for grant in grants_of(session, role):
        _check_grant(actor, grant)
    _keep_an_administrator(session, actor, role=role.id)
    session.execute(delete(RoleAssignment).where(RoleAssignment.role_id == role.id))
    session.execute(delete(RoleGrant).where(RoleGrant.role_id == role.id))
    session.delete(role)
    record(
        session,
        event=AuditEvent.ROLE_DELETED,
        actor=actor.audit_name,
        subject=f"role:{role.id}",
        payload={"name": name},
    )


def grants_of(session: Session, role: Role) -> list[Grant]:
    rows = session.scalars(select(RoleGrant).where(RoleGrant.role_id == role.id)).all()
    return [
        Grant(parse_right(row.right), role.name, parse_conditions(row.conditions)) for row in rows
    ]


def user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise DealchatError(ErrorCode.NOT_FOUND, f"no user {username!r}", http_status=404)
    return user


def assign(session: Session, *, actor: Actor, role: str, username: str) -> RoleAssignment:
    """Give `username` the role: the actor must be able to grant every right the role carries."""
    check_manage(session, actor, Right.ROLE_MANAGE)
    target, user = role_named(session, role), user_named(session, username)
    grants = grants_of(session, target)
    for grant in grants:
        _check_grant(actor, grant)
    if user.kind != "internal" and any(g.right not in CLIENT_RIGHTS for g in grants):
        raise _bad("an external user can only hold client rights")
    exists = session.scalar(
        select(RoleAssignment.id).where(
            RoleAssignment.role_id == target.id, RoleAssignment.user_id == user.id
        )
    )
    if exists is not None:
        raise DealchatError(ErrorCode.CONFLICT, "the user holds this role", http_status=409)
    row = RoleAssignment(role_id=target.id, user_id=user.id, created_at=utcnow())
    session.add(row)
    session.flush()
    _record_assignment(session, AuditEvent.ROLE_ASSIGNED, actor, row, role=role, user=user)
    return row


def _record_assignment(
    session: Session,
    event: AuditEvent,
    actor: Actor,
    row: RoleAssignment,
    *,
    role: str,
    user: User,
) -> None:
    """The user by id in clear; their username sealed under their access-log month."""
    record_sealed(
        session,
        event=event,
        actor=actor.audit_name,
        subject=f"assignment:{row.id}",
        payload={"role": role, "user_id": user.id},
        person=user.id,
        details={"user": user.username},
        at=utcnow(),
    )


def unassign(session: Session, *, actor: Actor, role: str, username: str) -> None:
    check_manage(session, actor, Right.ROLE_MANAGE)
    target, user = role_named(session, role), user_named(session, username)
    for grant in grants_of(session, target):
        _check_grant(actor, grant)
    row = session.scalar(
        select(RoleAssignment).where(
            RoleAssignment.role_id == target.id, RoleAssignment.user_id == user.id
        )
    )
    if row is None:
        raise DealchatError(
            ErrorCode.NOT_FOUND, "the user does not hold this role", http_status=404
        )
    _keep_an_administrator(session, actor, assignment=row.id)
    session.delete(row)
    _record_assignment(session, AuditEvent.ROLE_UNASSIGNED, actor, row, role=role, user=user)


def _keep_an_administrator(
    session: Session,
    actor: Actor,
    *,
    assignment: str | None = None,
    role: str | None = None,
    grant: str | None = None,
) -> None:
    """The last-administrator guard for a person (the console, the API, the CLI with a token);
    the host's own operations (`system_actor`: seeding, the directory sync) are not refused."""
    if actor.user_id != SYSTEM:
        guards.check_keeps_an_administrator(session, assignment=assignment, role=role, grant=grant)


@dataclass(frozen=True)
class RoleView:
    name: str
    description: str
    grants: list[dict[str, Any]]
    users: list[str]


def list_roles(session: Session) -> list[RoleView]:
    views = []
    for role in session.scalars(select(Role).order_by(Role.name)):
        rows = session.scalars(
            select(RoleGrant).where(RoleGrant.role_id == role.id).order_by(RoleGrant.right)
        ).all()
        users = session.scalars(
            select(User.username)
            .join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.role_id == role.id)
            .order_by(User.username)
        ).all()
        grants = [
            {"id": r.id, "right": r.right, "conditions": json.loads(r.conditions)} for r in rows
        ]
        views.append(RoleView(role.name, role.description, grants, list(users)))
    return views


@dataclass(frozen=True)
class AccessContext:
    """Where a decision is taken: channel (console, api, cli, chat, service), address, operation."""

    channel: str
    source_ip: str | None = None
    operation: str = ""


def decide(
    session: Session,
    *,
    actor: Actor | None,
    right: Right | None,
    context: AccessContext,
    resource: Resource | None = None,
    denied_because: str | None = None,
    sender: str | None = None,
    listing: bool = False,
) -> Decision:
    """Decide and write the decision to the access log (the audit log), in `session`.

    `denied_because` records a denial taken before the rights check (no valid session, too weak
    a login); `right=None` with an actor means "any signed-in user"; `sender` is the chat
    identity of a sender without an account (sealed, like the username and the address).
    """
    if denied_because is not None or actor is None:
        decision = Decision(False, right or Right.ROLE_MANAGE, denied_because or "not signed in")
    elif right is None:
        decision = Decision(True, Right.ROLE_MANAGE, "signed in")
    elif listing:
        decision = can_list(actor, right)
    else:
        decision = can(actor, right, resource)
    logged = _logged(actor, right, decision, context, sender)
    _write(session, logged)
    session.info.setdefault(DECISIONS_KEY, []).append(logged)
    return decision


@dataclass(frozen=True)
class _Logged:
    """One access-log entry: `payload` in clear, `details` sealed under `person`'s month."""

    event: AuditEvent
    actor: str
    subject: str
    payload: dict[str, Any]
    person: str | None
    details: dict[str, Any]
    at: dt.datetime


def _logged(
    actor: Actor | None,
    right: Right | None,
    decision: Decision,
    context: AccessContext,
    sender: str | None,
) -> _Logged:
    at = utcnow()
    payload = {
        "at": at,
        "user_id": actor.user_id if actor else None,
        "channel": context.channel,
        "factors": list(actor.factors) if actor else [],
        "right": right.value if right else None,
        "result": "allowed" if decision.allowed else "denied",
        "rule": decision.rule,
    }
    details = {
        "user": actor.username if actor else None,
        "source_ip": context.source_ip,
        "operation": context.operation,
    }
    if sender is not None:
        details["sender"] = sender
    event = AuditEvent.ACCESS_ALLOWED if decision.allowed else AuditEvent.ACCESS_DENIED
    who = actor.audit_name if actor else f"{context.channel}:anonymous"
    subject = f"access:{right.value if right else 'signed-in'}"
    return _Logged(event, who, subject, payload, actor.user_id if actor else None, details, at)


def _write(session: Session, logged: _Logged) -> None:
    record_sealed(
        session,
        event=logged.event,
        actor=logged.actor,
        subject=logged.subject,
        payload=logged.payload,
        person=logged.person,
        details=logged.details,
        at=logged.at,
    )


def rollback_keeping_decisions(session: Session) -> bool:
    """Roll back the transaction's work but not its authorisation decisions: those are recorded
    again on their own (uncommitted). True when there were any."""
    decisions = session.info.pop(DECISIONS_KEY, [])
    session.rollback()
    rerecord_decisions(session, decisions)
    return bool(decisions)


def rerecord_decisions(session: Session, decisions: list[Any]) -> None:
    """After a rollback: the decisions taken in the failed transaction, recorded (and sealed)
    again on their own."""
    for logged in decisions:
        outcome = "request failed, its work rolled back"
        _write(session, replace(logged, payload={**logged.payload, "outcome": outcome}))


def _bad(message: str) -> DealchatError:
    return DealchatError(ErrorCode.BAD_REQUEST, message)


def decide_intent(
    session: Session, *, user: User | None, channel: str, sender: str, intent: str, level: int
) -> bool:
    """The chat's gate, access-logged: an intent of level 1 or 2 needs a logged-in chat session
    (the level-2 proof for the ticket is checked, and audited, when confirming)."""
    context = AccessContext(f"chat:{channel}", None, f"intent {intent} (level {level})")
    if user is None:
        why = f"level {level}: no logged-in chat session"
        return decide(
            session,
            actor=None,
            right=None,
            context=context,
            denied_because=why,
            sender=f"{channel}:{sender}",
        ).allowed
    # "Signed in" needs no right: the actor is who logged in, not the grants of its roles (a
    # read of them would be one statement a message for nothing).
    signed_in = Actor(user.id, user.username, user.kind, factors=("password", "totp"))
    return decide(session, actor=signed_in, right=None, context=context).allowed
