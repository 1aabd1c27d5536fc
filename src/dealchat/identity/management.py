"""User administration for a holder of `user:manage` (the console's users pages): the list, a new
account that chooses its own password and authenticator behind an enrolment link, and second
factor resets that a second administrator must approve (four eyes, like a directory mapping).
Each change audited in the caller's transaction; the caller commits."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.access.models import Role, RoleAssignment
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import accounts, enrolment, passwords, service
from dealchat.identity.models import ChatIdentity, FactorReset, User
from dealchat.identity.parties import record_user_created
from dealchat.identity.service import USERNAME, AuthPolicy
from dealchat.identity.session_models import AuthSession
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.sealing import Sealer
from dealchat.records.service import record

FACTORS = ("totp", "sms")
REQUESTED, APPROVED, REFUSED = "requested", "approved", "refused"
RESET_TTL = dt.timedelta(hours=24)  # an unanswered request lapses
SECOND_ADMIN = "a second administrator must approve a factor reset: not the one who asked for it"


@dataclass(frozen=True)
class UserRow:
    username: str
    name: str
    kind: str
    roles: list[str]
    locked: bool
    factors: list[str]
    last_login: dt.datetime | None
    phone: str | None


def users(session: Session, *, search: str = "", limit: int = 200) -> list[UserRow]:
    """Users whose username or display name contains `search` (case-insensitive), by username."""
    query = select(User).order_by(User.username).limit(limit)
    wanted = search.strip().lower()[:64]
    if wanted:
        pattern = f"%{wanted}%"
        query = query.where(
            or_(
                func.lower(User.username).like(pattern), func.lower(User.display_name).like(pattern)
            )
        )
    return [_row(session, user) for user in session.scalars(query)]


def user_row(session: Session, username: str) -> UserRow:
    return _row(session, accounts.find_user(session, username))


def _row(session: Session, user: User) -> UserRow:
    roles = session.scalars(
        select(Role.name)
        .join(RoleAssignment, RoleAssignment.role_id == Role.id)
        .where(RoleAssignment.user_id == user.id)
        .order_by(Role.name)
    ).all()
    return UserRow(
        username=user.username,
        name=user.display_name or "",
        kind=user.kind,
        roles=list(roles),
        locked=user.locked_at is not None,
        factors=factors_of(user),
        last_login=last_login(session, user.id),
        phone=user.sms_phone,
    )


def factors_of(user: User) -> list[str]:
    held = []
    if user.password_hash.startswith("$argon2"):
        held.append("password")
    if user.totp_secret_sealed is not None:
        held.append("totp")
    if user.sms_phone:
        held.append("sms")
    return held


def last_login(session: Session, user_id: str) -> dt.datetime | None:
    """The latest console login or chat login of the user."""
    console = session.scalar(
        select(func.max(AuthSession.created_at)).where(AuthSession.user_id == user_id)
    )
    chat = session.scalar(
        select(func.max(ChatIdentity.authenticated_at)).where(ChatIdentity.user_id == user_id)
    )
    found = [when for when in (console, chat) if when is not None]
    return max(found) if found else None


@dataclass(frozen=True)
class Invitation:
    username: str
    path: str  # /enrol/<token>: single use, short-lived; shown once to the administrator


@dataclass(frozen=True)
class Door:
    """What an enrolment link needs from the platform."""

    sealer: Sealer
    issuer: str  # the TOTP issuer shown in the authenticator app
    policy: AuthPolicy


def create(
    session: Session,
    *,
    actor: Actor,
    door: Door,
    username: str,
    kind: str,
    display_name: str = "",
    now: dt.datetime,
) -> Invitation:
    """A new internal or external user with no password and no authenticator yet: the enrolment
    link lets the person choose both (the administrator never knows the password)."""
    access.check_manage(session, actor, Right.USER_MANAGE)
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise DealchatError(ErrorCode.BAD_REQUEST, "username: 3-64 of a-z 0-9 . _ -")
    if kind not in service.KINDS:
        raise DealchatError(ErrorCode.BAD_REQUEST, "kind must be internal or external")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DealchatError(ErrorCode.CONFLICT, "username taken", http_status=409)
    user = User(username=username, kind=kind, password_hash=passwords.UNSET, created_at=now)
    record_user_created(session, user, actor=actor.audit_name, payload={"kind": kind}, now=now)
    if display_name.strip():
        access.set_display_name(session, actor=actor, username=username, name=display_name)
    return enrolment_link(session, actor=actor, door=door, username=username, now=now)


def enrolment_link(
    session: Session, *, actor: Actor, door: Door, username: str, now: dt.datetime
) -> Invitation:
    """A link to enrol an authenticator, for a user who has none (new, or after an approved
    reset): an administrator cannot replace a working authenticator alone."""
    access.check_manage(session, actor, Right.USER_MANAGE)
    user = accounts.find_user(session, username)
    if user.totp_secret_sealed is not None:
        raise DealchatError(
            ErrorCode.CONFLICT,
            "the user has an authenticator: reset it first (a second administrator approves)",
            http_status=409,
        )
    shown = enrolment.begin(
        session,
        sealer=door.sealer,
        username=username,
        issuer=door.issuer,
        actor=actor.audit_name,
        now=now,
    )
    token = enrolment.link(session, enrolment_id=shown.id, policy=door.policy, now=now)
    return Invitation(user.username, f"/enrol/{token}")


# ---- second factor resets: four eyes ------------------------------------------------------------


def request_reset(
    session: Session, *, actor: Actor, username: str, factor: str, reason: str, now: dt.datetime
) -> FactorReset:
    """Ask for `username`'s authenticator (totp) or SMS number (sms) to be removed; nothing
    changes until a second administrator approves."""
    access.check_manage(session, actor, Right.USER_MANAGE)
    if factor not in FACTORS:
        raise DealchatError(ErrorCode.BAD_REQUEST, "factor: totp or sms")
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= 500:
        raise DealchatError(ErrorCode.BAD_REQUEST, "say why: 3-500 characters")
    user = accounts.find_user(session, username)
    row = FactorReset(
        user_id=user.id,
        factor=factor,
        reason=reason,
        state=REQUESTED,
        requested_by=actor.user_id,
        requested_at=now,
        expires_at=now + RESET_TTL,
    )
    session.add(row)
    session.flush()
    record_sealed(  # the reason may name the person: sealed under their month, erasable
        session,
        event=AuditEvent.FACTOR_RESET_REQUESTED,
        actor=actor.audit_name,
        subject=f"factor-reset:{row.id}",
        payload={"user": user.id, "factor": factor, "expires_at": row.expires_at},
        person=user.id,
        details={"reason": reason},
        at=now,
    )
    return row


@dataclass(frozen=True)
class PendingReset:
    id: str
    username: str
    factor: str
    reason: str
    requested_by: str
    requested_at: dt.datetime
    expires_at: dt.datetime
    mine: bool  # asked by the reader: someone else must approve


def pending_resets(session: Session, *, reader: Actor, now: dt.datetime) -> list[PendingReset]:
    target, asker = User.__table__.alias("target"), User.__table__.alias("asker")
    rows = session.execute(
        select(FactorReset, target.c.username, asker.c.username)
        .join(target, target.c.id == FactorReset.user_id)
        .join(asker, asker.c.id == FactorReset.requested_by)
        .where(FactorReset.state == REQUESTED, FactorReset.expires_at > now)
        .order_by(FactorReset.requested_at)
    ).all()
    return [
        PendingReset(
            row.id,
            username,
            row.factor,
            row.reason,
            by,
            row.requested_at,
            row.expires_at,
            row.requested_by == reader.user_id,
        )
        for row, username, by in rows
    ]


@dataclass(frozen=True)
class FoundReset:
    id: str
    username: str
    state: str


def find_reset(session: Session, reset_id: str) -> FoundReset:
    found = session.execute(
        select(FactorReset.id, User.username, FactorReset.state)
        .join(User, User.id == FactorReset.user_id)
        .where(FactorReset.id == reset_id[:32])
    ).one_or_none()
    if found is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such factor reset", http_status=404)
    return FoundReset(*found)


def reset_hash(session: Session, reset_id: str) -> str:
    """What an approver's step-up is bound to: the request's id, user, factor and reason."""
    row = session.get_one(FactorReset, reset_id)
    text = json.dumps([row.id, row.user_id, row.factor, row.reason], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decide_reset(
    session: Session, *, actor: Actor, reset_id: str, approve: bool, now: dt.datetime
) -> FactorReset:
    """Approve (the factor is removed and every session of the user ends) or refuse; never by
    the administrator who asked."""
    access.check_manage(session, actor, Right.USER_MANAGE)
    row = session.scalar(
        select(FactorReset).where(FactorReset.id == reset_id[:32]).with_for_update()
    )
    if row is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such factor reset", http_status=404)
    if row.state != REQUESTED or row.expires_at <= now:
        state = row.state if row.state != REQUESTED else "expired"
        raise DealchatError(ErrorCode.CONFLICT, f"this reset is {state}", http_status=409)
    if row.requested_by == actor.user_id:
        raise DealchatError(ErrorCode.FORBIDDEN, SECOND_ADMIN, http_status=403)
    row.state, row.decided_by, row.decided_at = (
        (APPROVED if approve else REFUSED),
        actor.user_id,
        now,
    )
    ended = _remove_factor(session, row, now) if approve else 0
    record(
        session,
        event=AuditEvent.FACTOR_RESET_APPROVED if approve else AuditEvent.FACTOR_RESET_REFUSED,
        actor=actor.audit_name,
        subject=f"factor-reset:{row.id}",
        payload={"user": row.user_id, "factor": row.factor, "chat_sessions_ended": ended},
    )
    return row


def _remove_factor(session: Session, row: FactorReset, now: dt.datetime) -> int:
    user = session.get_one(User, row.user_id)
    if row.factor == "totp":
        user.totp_secret_sealed, user.totp_last_step = None, None
    else:
        user.sms_phone = None
    return accounts.end_every_session(session, user, reason=f"{row.factor} reset", now=now)
