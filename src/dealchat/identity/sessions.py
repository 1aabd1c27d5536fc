"""Console sessions and API tokens: server-side rows, bearer secrets hashed at rest.

A session gets a new id (and secret) at login and at step-up; it ends after `idle` without use
or `absolute` after login, whichever is first; a password or factor change revokes every session
and token of the user (`revoke_all`). API tokens are random, hashed, expiring, revocable, and
act for one user. A level-2 proof for the API is a step-up proof (identity.models.StepUpProof)
bound to the content hash of the one operation it approves, spent once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.directory_login import DirectoryLogin
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.models import StepUpProof, User
from dealchat.identity.service import authenticate, store_stepup, use_stepup
from dealchat.identity.session_models import ApiToken, AuthSession
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.sealing import Sealer
from dealchat.records.service import record, record_new

COOKIE = "__Host-dealchat"
TOKEN_PREFIX = "dct_"  # noqa: S105 - the visible prefix of API tokens, not a secret
PROOF_CHANNEL = "api"
# A federated login waiting for our second factor: a session row that is no login (deps refuses it)
PENDING_CHANNEL = "console-2fa"
CONTENT_HASH_LENGTH = 64


@dataclass(frozen=True)
class SessionPolicy:
    idle: dt.timedelta
    absolute: dt.timedelta
    token_lifetime: dt.timedelta
    token_max_lifetime: dt.timedelta
    stepup_ttl: dt.timedelta


def policy_from(
    *,
    idle_minutes: int,
    absolute_hours: int,
    token_days: int,
    token_max_days: int,
    stepup_seconds: int,
) -> SessionPolicy:
    return SessionPolicy(
        idle=dt.timedelta(minutes=idle_minutes),
        absolute=dt.timedelta(hours=absolute_hours),
        token_lifetime=dt.timedelta(days=token_days),
        token_max_lifetime=dt.timedelta(days=token_max_days),
        stepup_ttl=dt.timedelta(seconds=stepup_seconds),
    )


DEFAULT_POLICY = policy_from(
    idle_minutes=15, absolute_hours=8, token_days=30, token_max_days=90, stepup_seconds=300
)


@dataclass(frozen=True)
class Started:
    """A new session: its row and the secret for the cookie (shown once, never stored)."""

    row: AuthSession
    token: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def secret_hash(secret: str) -> str:
    """SHA-256 of a 256-bit random secret (no stretching needed at that entropy)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The synchroniser token of a session: derived from its secret, so bound to that session."""
    return hmac.new(session_token.encode("utf-8"), b"dealchat-csrf", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(csrf_token(session_token), given)


def start(
    session: Session,
    *,
    user: User,
    factors: tuple[str, ...] | list[str],
    source_ip: str | None,
    channel: str,
    policy: SessionPolicy | None = None,
    now: dt.datetime | None = None,
    replaces: AuthSession | None = None,
) -> Started:
    """A new session with a fresh id and secret; `replaces` (a rotation) is revoked."""
    policy = policy or DEFAULT_POLICY
    now = now or dt.datetime.now(dt.UTC)
    token = secrets.token_urlsafe(32)
    expires_at = replaces.expires_at if replaces is not None else now + policy.absolute
    row = AuthSession(
        token_hash=secret_hash(token),
        user_id=user.id,
        channel=channel,
        factors=",".join(factors),
        source_ip=source_ip,
        created_at=replaces.created_at if replaces is not None else now,
        authenticated_at=now,
        last_active_at=now,
        expires_at=expires_at,
    )
    event = AuditEvent.SESSION_ROTATED if replaces is not None else AuditEvent.SESSION_STARTED
    payload: dict[str, Any] = {"channel": channel, "factors": list(factors)}
    if replaces is not None:
        _revoke(session, replaces, now=now, reason="rotated")
        payload["replaces"] = replaces.id
    session.add(row)
    session.flush()
    record_sealed(
        session,
        event=event,
        actor=f"user:{user.id}",
        subject=f"session:{row.id}",
        payload=payload,
        person=user.id,
        details={"source_ip": source_ip},
        at=now,
    )
    return Started(row, token)


def rotate(
    session: Session,
    *,
    row: AuthSession,
    user: User,
    now: dt.datetime,
    policy: SessionPolicy | None = None,
    factors: tuple[str, ...] | None = None,
) -> Started:
    """Step-up: a new id and secret for the same login (absolute timeout kept), fresh auth time."""
    kept = factors if factors is not None else tuple(f for f in row.factors.split(",") if f)
    return start(
        session,
        user=user,
        factors=kept,
        source_ip=row.source_ip,
        channel=row.channel,
        policy=policy,
        now=now,
        replaces=row,
    )


def resolve(
    session: Session, *, token: str, policy: SessionPolicy, now: dt.datetime
) -> AuthSession | None:
    """The live session for a cookie secret (not revoked, within idle and absolute timeouts)."""
    if not 20 <= len(token) <= 100:
        return None
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == secret_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if now >= row.expires_at:
        _revoke(session, row, now=now, reason="absolute timeout")
        return None
    if now - row.last_active_at > policy.idle:
        _revoke(session, row, now=now, reason="idle timeout")
        return None
    row.last_active_at = now
    return row


def end(session: Session, row: AuthSession, *, now: dt.datetime, reason: str = "logout") -> None:
    _revoke(session, row, now=now, reason=reason)
    record(
        session,
        event=AuditEvent.SESSION_ENDED,
        actor=f"user:{row.user_id}",
        subject=f"session:{row.id}",
        payload={"reason": reason},
    )


def _revoke(session: Session, row: AuthSession, *, now: dt.datetime, reason: str) -> None:
    if row.revoked_at is None:
        row.revoked_at, row.revoke_reason = now, reason
        session.flush()


def revoke_all(
    session: Session, *, user_id: str, reason: str, now: dt.datetime | None = None
) -> int:
    """End every session and revoke every API token of a user (password or factor change)."""
    when = now or dt.datetime.now(dt.UTC)
    reason = reason[:64]
    ended = session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=when, revoke_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=when, revoke_reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.expire_all()
    record(
        session,
        event=AuditEvent.SESSIONS_REVOKED,
        actor=f"user:{user_id}",
        subject=f"user:{user_id}",
        payload={"reason": reason, "sessions": ended, "tokens": revoked},
    )
    return int(ended) + int(revoked)


def issue_token(
    session: Session,
    *,
    user: User,
    name: str,
    by: str,
    policy: SessionPolicy,
    now: dt.datetime,
    lifetime: dt.timedelta | None = None,
) -> tuple[ApiToken, str]:
    """A new API token for `user`; the secret is returned once and only its hash is kept."""
    lifetime = lifetime or policy.token_lifetime
    if not dt.timedelta(minutes=1) <= lifetime <= policy.token_max_lifetime:
        raise DealchatError(ErrorCode.BAD_REQUEST, "token lifetime out of range")
    if not 1 <= len(name) <= 64:
        raise DealchatError(ErrorCode.BAD_REQUEST, "token name: 1-64 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=secret_hash(secret),
        user_id=user.id,
        name=name,
        created_by=by[:64],
        created_at=now,
        authenticated_at=now,
        expires_at=now + lifetime,
    )
    record_new(
        session,
        row,
        event=AuditEvent.TOKEN_ISSUED,
        actor=by,
        kind="token",
        payload={"user_id": user.id, "name": name, "expires_at": row.expires_at},
    )
    return row, secret


def resolve_token(session: Session, *, secret: str, now: dt.datetime) -> ApiToken | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == secret_hash(secret)))
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    row.last_used_at = now
    return row


def revoke_token(session: Session, *, token_id: str, by: str, now: dt.datetime) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no live token with this id", http_status=404)
    row.revoked_at, row.revoke_reason = now, "revoked"
    record(session, event=AuditEvent.TOKEN_REVOKED, actor=by, subject=f"token:{row.id}", payload={})
    return row


def grant_proof(
    session: Session,
    *,
    user: User,
    content_hash: str,
    policy: SessionPolicy,
    now: dt.datetime,
) -> str:
    """A level-2 proof for the API (the caller has just checked both factors): single use, short
    lived, bound to `content_hash`, the hash of exactly the operation it approves."""
    if len(content_hash) != CONTENT_HASH_LENGTH or not all(
        c in "0123456789abcdef" for c in content_hash
    ):
        raise DealchatError(ErrorCode.BAD_REQUEST, "content_hash: 64 lowercase hex characters")
    secret = secrets.token_urlsafe(32)
    store_stepup(
        session,
        channel=PROOF_CHANNEL,
        external_id=secret_hash(secret),
        user_id=user.id,
        ticket_hash=content_hash,
        now=now,
        expires_at=now + policy.stepup_ttl,
    )
    return secret


def live_proof(session: Session, *, secret: str, user_id: str, now: dt.datetime) -> bool:
    """Is there an unspent, unexpired proof behind `secret` for this user (any content)?"""
    found = session.scalar(
        select(StepUpProof.id).where(
            StepUpProof.channel == PROOF_CHANNEL,
            StepUpProof.external_id == secret_hash(secret),
            StepUpProof.user_id == user_id,
            StepUpProof.used_at.is_(None),
            StepUpProof.expires_at > now,
        )
    )
    return found is not None


def prove_now(
    session: Session,
    *,
    actor: Actor,
    factors: Factors,
    content_hash: str,
    door: Door,
    policy: SessionPolicy,
    now: dt.datetime,
) -> bool:
    """Level 2 where the factors are typed with the action itself (a console form, a CLI prompt):
    the acting user's password and a fresh code, throttled and audited like any login, then the
    API's single-use proof for exactly `content_hash` granted and spent at once. False on any
    failure; the caller commits then (so lockout counts it) and does nothing else."""
    user = authenticate(
        session,
        sealer=door.sealer,
        username=actor.username,
        password=factors.password,
        otp=factors.otp,
        now=now,
        channel=door.channel,
        source_ip=door.source_ip,
        lockout=door.lockout,
        purpose="stepup",
        directory=door.directory,
    )
    if user is None or user.id != actor.user_id:
        return False
    secret = grant_proof(session, user=user, content_hash=content_hash, policy=policy, now=now)
    return spend_proof(session, secret=secret, user_id=user.id, content_hash=content_hash, now=now)


@dataclass(frozen=True)
class Factors:
    password: str
    otp: str

    def __repr__(self) -> str:  # never the secrets, in a log or a traceback
        return "Factors(***)"


@dataclass(frozen=True)
class Door:
    """Where typed factors came in: the sealer of TOTP secrets, channel, source, lockout."""

    sealer: Sealer
    channel: str
    source_ip: str | None
    lockout: LockoutPolicy
    directory: DirectoryLogin | None = None  # bind login: the directory checks the password


def spend_proof(
    session: Session, *, secret: str, user_id: str, content_hash: str, now: dt.datetime
) -> bool:
    """Spend the proof for exactly `content_hash`, once; False for any other content or reuse."""
    return use_stepup(
        session,
        channel=PROOF_CHANNEL,
        external_id=secret_hash(secret),
        user_id=user_id,
        ticket_hash=content_hash,
        now=now,
    )


def tokens(session: Session, *, user_id: str | None = None) -> list[ApiToken]:
    """API tokens, newest first (their secrets are never kept, so never shown again)."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(session.scalars(query))
