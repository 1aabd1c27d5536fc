"""Users, secure links and step-up: the operations, each audited in the caller's transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from dealchat.db.base import new_id
from dealchat.db.driver import Prepared
from dealchat.db.session import keep
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import factors, login, passwords
from dealchat.identity.directory_login import DirectoryLogin
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.models import ChatIdentity, SecureLink, StepUpProof, User
from dealchat.identity.parties import (
    ChatParty,
    chat_party,
    find_identity,
    record_user_created,
)
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.sealing import Sealer
from dealchat.records.service import record, record_new

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
KINDS = ("internal", "external")
MAX_LINK_ATTEMPTS = 5
# A chat session's last activity is written when it is this old (or a tenth of the idle limit,
# if shorter), not on every message: the idle limit may then end a session up to that much
# early, never late.
ACTIVITY_STEP = dt.timedelta(seconds=30)
LOGIN_FAILED = "Login failed. Check your username, password and authenticator code."
LINK_INVALID = "This link is invalid, used or expired. Ask the bot for a new one."


@dataclass(frozen=True)
class AuthPolicy:
    link_ttl: dt.timedelta
    stepup_ttl: dt.timedelta
    session_idle: dt.timedelta
    session_absolute: dt.timedelta
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    # DEALCHAT_DIRECTORY__BIND_LOGIN: synchronised internal users' passwords are the directory's
    directory: DirectoryLogin | None = None


def create_user(
    session: Session,
    *,
    sealer: Sealer,
    username: str,
    password: str,
    kind: str,
    totp_secret: str | None,
    actor: str,
) -> User:
    """A new user with an argon2id password and a sealed TOTP secret (one is made if none given)."""
    username = username.strip().lower()
    if not USERNAME.fullmatch(username):
        raise DealchatError(ErrorCode.BAD_REQUEST, "username: 3-64 of a-z 0-9 . _ -")
    if kind not in KINDS:
        raise DealchatError(ErrorCode.BAD_REQUEST, "kind must be internal or external")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise DealchatError(ErrorCode.CONFLICT, "username taken", http_status=409)
    secret = (totp_secret or factors.new_totp_secret()).strip().upper()
    if not re.fullmatch(r"[A-Z2-7]{32,}", secret):
        raise DealchatError(ErrorCode.BAD_REQUEST, "TOTP secret: base32, at least 160 bits")
    try:
        passwords.check_new_password(password, username=username, kind=kind)
    except passwords.PasswordRejectedError as exc:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    password_hash = passwords.hash_password(password)
    user_id = new_id()
    user = User(
        id=user_id,
        username=username,
        kind=kind,
        password_hash=password_hash,
        totp_secret_sealed=sealer.seal(secret, context=f"totp:{user_id}"),
    )
    record_user_created(session, user, actor=actor, payload={"kind": kind})
    return user


def totp_secret(sealer: Sealer, user: User) -> str:
    if user.totp_secret_sealed is None:
        raise DealchatError(ErrorCode.CONFLICT, "user has no authenticator", http_status=409)
    return sealer.open(user.totp_secret_sealed, context=f"totp:{user.id}")


def authenticate(
    session: Session,
    *,
    sealer: Sealer,
    username: str,
    password: str,
    otp: str,
    now: dt.datetime,
    channel: str,
    source_ip: str | None,
    lockout: LockoutPolicy,
    purpose: str,
    directory: DirectoryLogin | None = None,
) -> User | None:
    """Password and a fresh TOTP code; None on any failure (the caller says the same thing).

    Throttled and audited by `login.decide`; the caller commits (failures too). Every door
    names its channel, the client's source address and the installation's lockout policy (no
    defaults): a door that left the source out counted its failures in one shared "unknown"
    bucket, so one person's failures delayed everyone else's logins through that door.
    """
    attempt = login.Attempt(username, password, otp, channel, source_ip, purpose=purpose)
    outcome = login.decide(
        session, sealer=sealer, attempt=attempt, policy=lockout, now=now, directory=directory
    )
    return outcome.user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_link(
    session: Session,
    *,
    channel: str,
    external_id: str,
    purpose: str,
    ticket_hash: str | None,
    policy: AuthPolicy,
    now: dt.datetime,
    language: str | None = None,
) -> str:
    """A new single-use link token (256 bits); only its hash is stored. Its page speaks
    `language` (`zh-Hans`, `zh-Hant`; None: English), the language the chat asked in."""
    token = secrets.token_urlsafe(32)
    link = SecureLink(
        token_hash=_token_hash(token),
        channel=channel,
        external_id=external_id,
        purpose=purpose,
        ticket_hash=ticket_hash,
        created_at=now,
        expires_at=now + policy.link_ttl,
        language=language,
    )
    session.add(link)
    session.flush()
    party = chat_party(session, channel=channel, external_id=external_id)
    payload = {"purpose": purpose, "ticket_hash": ticket_hash, "expires_at": link.expires_at}
    _record_link(session, AuditEvent.LINK_ISSUED, link, party, payload, now)
    return token


# Built once (a chat's message asks for them; building costs more than running them).
_LIVE = (
    select(SecureLink.expires_at)
    .where(
        SecureLink.channel == bindparam("channel"),
        SecureLink.external_id == bindparam("external_id"),
        SecureLink.purpose == bindparam("purpose"),
        SecureLink.used_at.is_(None),
        SecureLink.expires_at > bindparam("now"),
        SecureLink.failed_attempts < MAX_LINK_ATTEMPTS,
    )
    .order_by(SecureLink.expires_at.desc())
    .limit(1)
)
# Compiled once and read on the driver (db.driver): the ORM's execution cost more than these.
_LIVE_LINK = Prepared(_LIVE.where(SecureLink.ticket_hash.is_(None)))
_LIVE_TICKET_LINK = Prepared(_LIVE.where(SecureLink.ticket_hash == bindparam("ticket_hash")))
_LIVE_PROOF = Prepared(
    select(StepUpProof.id)
    .where(
        StepUpProof.channel == bindparam("channel"),
        StepUpProof.external_id == bindparam("external_id"),
        StepUpProof.user_id == bindparam("user_id"),
        StepUpProof.ticket_hash == bindparam("ticket_hash"),
        StepUpProof.used_at.is_(None),
        StepUpProof.expires_at > bindparam("now"),
    )
    .limit(1)
)


def issue_link_once(
    session: Session,
    *,
    channel: str,
    external_id: str,
    purpose: str,
    ticket_hash: str | None,
    policy: AuthPolicy,
    now: dt.datetime,
    language: str | None = None,
) -> str | dt.datetime:
    """A new link token, unless a link for the same chat identity, purpose and ticket is still
    live (unused, unexpired): then its expiry, and nothing is issued or recorded. So a chat that
    asks again and again gets at most one link per link lifetime."""
    values = {"channel": channel, "external_id": external_id, "purpose": purpose, "now": now}
    if ticket_hash is None:
        live = _LIVE_LINK.read(session, values)
    else:
        live = _LIVE_TICKET_LINK.read(session, {**values, "ticket_hash": ticket_hash})
    if live:
        return cast(dt.datetime, live[0][0])
    return issue_link(
        session, channel=channel, external_id=external_id, purpose=purpose,
        ticket_hash=ticket_hash, policy=policy, now=now, language=language,
    )  # fmt: skip


def _record_link(  # noqa: PLR0917 - private helper: the same six values at every call
    session: Session,
    event: AuditEvent,
    link: SecureLink,
    party: ChatParty,
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    """A link event: the link and the chat identity in clear, the sender's handle sealed."""
    record_sealed(
        session,
        event=event,
        actor=party.actor,
        subject=f"link:{link.id}",
        payload={"channel": link.channel, **payload},
        person=party.user_id,
        details=party.details(),
        at=now,
    )


def open_link(
    session: Session,
    token: str,
    *,
    now: dt.datetime,
    purposes: tuple[str, ...] = ("link", "stepup"),
    lock: bool = False,
) -> SecureLink:
    """The live link for `token`, or LINK_INVALID (the same answer for unknown, used, expired).

    With `lock` the link's row is locked (and read afresh) for the rest of the transaction: a
    submission that is going to count a try holds it, so parallel submissions to one link are
    checked one after another, each seeing the tries counted before it."""
    if not 20 <= len(token) <= 100:
        raise _invalid_link()
    query = select(SecureLink).where(SecureLink.token_hash == _token_hash(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    link = session.scalar(query)
    if link is None or link.used_at is not None or link.expires_at <= now:
        raise _invalid_link()
    if link.purpose not in purposes:
        raise _invalid_link()
    if link.failed_attempts >= MAX_LINK_ATTEMPTS:
        raise _invalid_link()
    return link


def _invalid_link() -> DealchatError:
    return DealchatError(ErrorCode.LINK_INVALID, LINK_INVALID, http_status=404)


@dataclass(frozen=True)
class LinkResult:
    ok: bool
    purpose: str
    message: str


def complete_link(
    session: Session,
    *,
    sealer: Sealer,
    token: str,
    username: str,
    password: str,
    otp: str,
    policy: AuthPolicy,
    now: dt.datetime,
    source_ip: str | None = None,
) -> LinkResult:
    """Check both factors on the bank's page; link the chat identity or grant the step-up.

    A failure is returned, not raised, so the caller commits the attempt counter and audit.
    """
    link = open_link(session, token, now=now, lock=True)
    user = authenticate(
        session,
        sealer=sealer,
        username=username,
        password=password,
        otp=otp,
        now=now,
        channel=f"chat-link:{link.channel}",
        source_ip=source_ip,
        lockout=policy.lockout,
        purpose="stepup" if link.purpose == "stepup" else "login",
        directory=policy.directory,
    )
    if user is not None and link.purpose == "stepup" and not _linked_to(session, link, user):
        user = None
    if user is None:
        fail_link(session, link, now)
        return LinkResult(False, link.purpose, LOGIN_FAILED)
    _use_link(session, link, now, user_id=user.id)
    if link.purpose == "stepup":
        return _grant_stepup(session, link, user, policy, now)
    return _link_identity(session, link, user, now)


def fail_link(session: Session, link: SecureLink, now: dt.datetime) -> int:
    """A failed try on a live link: counted (5 spend it) and audited; returns the count."""
    tries = _count_try(session, link)
    party = chat_party(session, channel=link.channel, external_id=link.external_id)
    _record_link(session, AuditEvent.LINK_FAILED, link, party, {"attempts": tries}, now)
    return tries


def _count_try(session: Session, link: SecureLink) -> int:
    """Count a failed try in the database (`n = n + 1`, never a value computed here)."""
    tries = session.execute(
        update(SecureLink)
        .where(SecureLink.id == link.id)
        .values(failed_attempts=SecureLink.failed_attempts + 1)
        .returning(SecureLink.failed_attempts)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(link, "failed_attempts", tries)  # as stored: no second write
    return int(tries)


def _linked_to(session: Session, link: SecureLink, user: User) -> bool:
    identity = find_identity(session, link.channel, link.external_id)
    return identity is not None and identity.ended_at is None and identity.user_id == user.id


def use_link(session: Session, link: SecureLink, now: dt.datetime) -> None:
    """Spend a live link (single use) and audit it."""
    _use_link(session, link, now)


def _use_link(
    session: Session, link: SecureLink, now: dt.datetime, *, user_id: str | None = None
) -> None:
    """Spend the link; its handle is sealed under the user who just proved both factors (or
    the linked one)."""
    if not _spend(session, SecureLink, link.id, now):
        raise _invalid_link()
    party = chat_party(session, channel=link.channel, external_id=link.external_id)
    if user_id is not None:
        party = replace(party, user_id=user_id)
    payload = {"purpose": link.purpose}
    _record_link(session, AuditEvent.LINK_COMPLETED, link, party, payload, now)


def _grant_stepup(
    session: Session, link: SecureLink, user: User, policy: AuthPolicy, now: dt.datetime
) -> LinkResult:
    assert link.ticket_hash is not None
    store_stepup(
        session,
        channel=link.channel,
        external_id=link.external_id,
        user_id=user.id,
        ticket_hash=link.ticket_hash,
        now=now,
        expires_at=now + policy.stepup_ttl,
    )
    return LinkResult(True, "stepup", "Approved. Go back to the chat and reply c to confirm.")


def store_stepup(
    session: Session,
    *,
    channel: str,
    external_id: str,
    user_id: str,
    ticket_hash: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> StepUpProof:
    """A level-2 proof (both factors just checked) for exactly `ticket_hash`, audited."""
    proof = StepUpProof(
        channel=channel,
        external_id=external_id,
        user_id=user_id,
        ticket_hash=ticket_hash,
        granted_at=now,
        expires_at=expires_at,
    )
    payload = {"ticket_hash": ticket_hash, "factors": ["password", "totp"], "channel": channel}
    record_new(
        session,
        proof,
        event=AuditEvent.STEPUP_GRANTED,
        actor=f"user:{user_id}",
        kind="stepup",
        payload=payload,
    )
    return proof


def _link_identity(session: Session, link: SecureLink, user: User, now: dt.datetime) -> LinkResult:
    identity = find_identity(session, link.channel, link.external_id)
    if identity is None:
        identity = ChatIdentity(
            channel=link.channel,
            external_id=link.external_id,
            user_id=user.id,
            authenticated_at=now,
            last_active_at=now,
        )
        session.add(identity)
    else:
        identity.user_id, identity.authenticated_at, identity.last_active_at = user.id, now, now
        identity.ended_at = None
    session.flush()
    record_sealed(
        session,
        event=AuditEvent.IDENTITY_LINKED,
        actor=f"user:{user.id}",
        subject=f"chat-identity:{identity.id}",
        payload={"factors": ["password", "totp"], "channel": link.channel, "link": link.id},
        person=user.id,
        details={"sender": f"{link.channel}:{link.external_id}"},
        at=now,
    )
    return LinkResult(True, "link", "You are logged in. Go back to the chat and send your request.")


def chat_user(
    session: Session, *, channel: str, external_id: str, policy: AuthPolicy, now: dt.datetime
) -> User | None:
    """The user behind a chat sender while its session is fresh (idle and absolute limits)."""
    identity = find_identity(session, channel, external_id)
    if identity is None or identity.ended_at is not None:
        return None
    if now - identity.authenticated_at > policy.session_absolute:
        return None
    if now - identity.last_active_at > policy.session_idle:
        return None
    if now - identity.last_active_at >= min(ACTIVITY_STEP, policy.session_idle / 10):
        identity.last_active_at = now
    user = session.get(User, identity.user_id)
    keep(session, user)  # asked for again in the same turn (identity map: weak references)
    return user


def use_stepup(
    session: Session,
    *,
    channel: str,
    external_id: str,
    user_id: str,
    ticket_hash: str,
    now: dt.datetime,
) -> bool:
    """Consume one live proof for exactly this ticket hash; False when there is none."""
    values = {"channel": channel, "external_id": external_id, "user_id": user_id, "now": now}
    proofs = _LIVE_PROOF.read(session, {**values, "ticket_hash": ticket_hash})
    if not proofs:
        return False
    proof_id = proofs[0][0]
    if not _spend(session, StepUpProof, proof_id, now):
        return False
    record(
        session,
        event=AuditEvent.STEPUP_USED,
        actor=f"user:{user_id}",
        subject=f"stepup:{proof_id}",
        payload={"ticket_hash": ticket_hash},
    )
    return True


def _spend(
    session: Session, model: type[SecureLink] | type[StepUpProof], row_id: str, now: dt.datetime
) -> bool:
    """Mark a single-use row used, atomically: False when another request used it first."""
    spent = session.execute(
        update(model)
        .where(model.id == row_id, model.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(spent.rowcount)  # type: ignore[attr-defined]
