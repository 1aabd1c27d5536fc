"""TOTP enrolment: a new secret (160 bits, sealed) shown as a QR code, active only after one valid
code from the app; 5 tries, then the enrolment is void. A wrong code also feeds the lockout."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import accounts, factors, lockout, passwords, service
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.login import use_step
from dealchat.identity.models import TotpEnrolment, User
from dealchat.identity.service import AuthPolicy
from dealchat.records.events import AuditEvent
from dealchat.records.sealing import Sealer
from dealchat.records.service import record, record_new

ENROLMENT_TTL = dt.timedelta(minutes=15)
MAX_TRIES = 5
ENROLMENT_INVALID = "This enrolment is invalid, finished or expired. Ask for a new one."


@dataclass(frozen=True)
class Enrolment:
    id: str
    username: str
    secret: str  # shown only to the person enrolling, never logged
    uri: str
    qr_svg: str
    tries_left: int
    needs_password: bool = False  # a new account: the person chooses a password here too
    min_password: int = passwords.MIN_LENGTH


def qr_svg(uri: str) -> str:
    """The otpauth:// URI as an inline SVG QR code (no script, no external request)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, xmldecl=False, svgns=True)
    return out.getvalue().decode("ascii")


def _context(row_id: str) -> str:
    return f"totp-enrolment:{row_id}"


def begin(
    session: Session, *, sealer: Sealer, username: str, issuer: str, actor: str, now: dt.datetime
) -> Enrolment:
    """Start enrolling a new authenticator for `username`; the old one works until it finishes."""
    user = accounts.find_user(session, username)
    row = TotpEnrolment(user_id=user.id, secret_sealed="", created_at=now)
    row.expires_at = now + ENROLMENT_TTL
    secret = factors.new_totp_secret()
    record_new(
        session,
        row,
        event=AuditEvent.TOTP_ENROLMENT_STARTED,
        actor=actor,
        kind="totp-enrolment",
        payload={"user": user.id, "expires_at": row.expires_at},
    )
    row.secret_sealed = sealer.seal(secret, context=_context(row.id))
    return _shown(row, user, secret, issuer)


def link(session: Session, *, enrolment_id: str, policy: AuthPolicy, now: dt.datetime) -> str:
    """A single-use link token to the enrolment's page (`/enrol/<token>`)."""
    return service.issue_link(
        session,
        channel="enrol",
        external_id=enrolment_id,
        purpose="enrol",
        ticket_hash=None,
        policy=policy,
        now=now,
    )


def _shown(row: TotpEnrolment, user: User, secret: str, issuer: str) -> Enrolment:
    uri = factors.provisioning_uri(secret, username=user.username, issuer=issuer)
    return Enrolment(
        row.id,
        user.username,
        secret,
        uri,
        qr_svg(uri),
        MAX_TRIES - row.failed_attempts,
        needs_password=user.password_hash == passwords.UNSET,
        min_password=passwords.min_length(user.kind),
    )


def _live(session: Session, enrolment_id: str, now: dt.datetime) -> TotpEnrolment:
    row = session.scalars(
        select(TotpEnrolment)
        .where(TotpEnrolment.id == enrolment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None or row.completed_at is not None or row.expires_at <= now:
        raise DealchatError(ErrorCode.LINK_INVALID, ENROLMENT_INVALID, http_status=404)
    if row.failed_attempts >= MAX_TRIES:
        raise DealchatError(ErrorCode.LINK_INVALID, ENROLMENT_INVALID, http_status=404)
    return row


def show(
    session: Session, *, sealer: Sealer, enrolment_id: str, issuer: str, now: dt.datetime
) -> Enrolment:
    row = _live(session, enrolment_id, now)
    user = session.get(User, row.user_id)
    assert user is not None
    return _shown(row, user, sealer.open(row.secret_sealed, context=_context(row.id)), issuer)


def finish(
    session: Session,
    *,
    sealer: Sealer,
    enrolment_id: str,
    code: str,
    policy: LockoutPolicy,
    now: dt.datetime,
    password: str | None = None,
) -> bool:
    """Activate the new secret when `code` is valid (+-1 step); False (and counted) otherwise.

    A new account without a password (made in the console) chooses its `password` here: it is
    checked against the rules first (a refusal counts no try) and set with the authenticator.
    Activating a new factor ends the user's chat sessions. The caller commits either way.
    """
    row = _live(session, enrolment_id, now)
    user = lockout.lock_account_by_id(session, row.user_id)
    chosen = _chosen_password(user, password)
    secret = sealer.open(row.secret_sealed, context=_context(row.id))
    step = factors.matching_step(secret, code.strip(), now=now)
    if step is None:
        row.failed_attempts += 1
        lockout.count_account_failure(session, user, policy=policy, now=now)
        record(
            session,
            event=AuditEvent.TOTP_ENROLMENT_FAILED,
            actor=f"user:{user.id}",
            subject=f"totp-enrolment:{row.id}",
            payload={"at": now, "tries": row.failed_attempts, "rule": "wrong-otp"},
        )
        return False
    user.totp_secret_sealed = sealer.seal(secret, context=f"totp:{user.id}")
    user.totp_last_step = None
    if chosen is not None:
        user.password_hash, user.password_changed_at = chosen, now
    session.flush()
    use_step(session, user, step)  # the code that finished enrolment cannot log in again
    row.completed_at = now
    user_id = user.id
    ended = accounts.end_every_session(session, user, reason="authenticator changed", now=now)
    record(
        session,
        event=AuditEvent.TOTP_ENROLLED,
        actor=f"user:{user_id}",
        subject=f"user:{user_id}",
        payload={
            "at": now,
            "enrolment": row.id,
            "chat_sessions_ended": ended,
            "password_set": chosen is not None,
        },
    )
    return True


def _chosen_password(user: User, password: str | None) -> str | None:
    """The hash of the password a new account chooses (None: it has one already)."""
    if user.password_hash != passwords.UNSET:
        return None
    if password is None:
        raise DealchatError(ErrorCode.BAD_REQUEST, "choose a password")
    try:
        passwords.check_new_password(password, username=user.username, kind=user.kind)
    except passwords.PasswordRejectedError as exc:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    return passwords.hash_password(password)
