"""One authentication decision: source and account throttles, password, second factor, audit.

Whatever the door (the secure-link page, the console login, the API), a login goes through
`decide`, so the lockout counts across all of them. Every decision is written to the audit log in
the caller's transaction: the UTC time, user id, channel, factors, result and the rule that
decided in clear, the source address sealed under the user's access-log key for the month
(`records.personal`), so retention can erase it. The caller shows one answer for every
failure: unknown user, wrong password, wrong code, delayed and locked look alike, and cost about
the same work.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from sqlalchemy import update
from sqlalchemy.orm import Session

from dealchat.identity import directory_login, factors, lockout, networks, passwords, sms
from dealchat.identity.directory_login import DirectoryLogin
from dealchat.identity.lockout import LockoutPolicy
from dealchat.identity.models import LoginSource, User
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.sealing import Sealer


@dataclass(frozen=True)
class Attempt:
    """What someone typed, and where it came from (the address from the trusted-proxy chain)."""

    username: str
    password: str
    otp: str | None
    channel: str  # chat-link | console | api | ...
    source_ip: str | None
    sms_challenge: str | None = None  # an SMS code in `otp` instead of the authenticator's
    purpose: str = "login"  # login | stepup (confirming something: never waived)


@dataclass(frozen=True)
class Outcome:
    user: User | None
    rule: str  # what decided, for the audit log only; never shown to the person
    factors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.user is not None


def decide(
    session: Session,
    *,
    sealer: Sealer,
    attempt: Attempt,
    policy: LockoutPolicy,
    now: dt.datetime,
    directory: DirectoryLogin | None = None,
) -> Outcome:
    """Authenticate `attempt`; the throttles' counters and the audit entry go in the caller's tx.
    With `directory` (bind login on), a synchronised internal user's password is the directory's."""
    source = lockout.lock_source(
        session, lockout.source_key(attempt.source_ip), policy=policy, now=now
    )
    username = attempt.username.strip().lower()[:64]
    user = lockout.lock_account(session, username) if username else None
    refused = lockout.refusal(source, user, now=now)
    if refused is not None:
        passwords.burn_equal_work()
        return _audited(session, attempt, Outcome(None, refused), user, source, now)
    account = directory.account(session, user) if directory is not None else None
    if directory is not None and account is not None and user is not None:
        bound = directory.check(account, attempt.password)
        outcome = _check_directory(session, sealer, attempt, user, bound=bound, now=now)
    else:
        outcome = _check_factors(session, sealer, attempt, user, now)
    if outcome.ok and user is not None:
        lockout.clear_account(user)
    elif not (outcome.ok or directory_login.untested(outcome.rule)):  # a password was tested
        lockout.count_source_failure(session, source, policy=policy, now=now)
        if user is not None:
            lockout.count_account_failure(session, user, policy=policy, now=now)
    return _audited(session, attempt, outcome, user, source, now)


def _check_factors(
    session: Session, sealer: Sealer, attempt: Attempt, user: User | None, now: dt.datetime
) -> Outcome:
    password_ok = passwords.verify_password(user.password_hash if user else None, attempt.password)
    if user is None:
        return Outcome(None, "unknown-user")
    if not password_ok:
        return Outcome(None, "wrong-password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(attempt.password)
    return _second_factor(session, sealer, attempt, user, now)


def _second_factor(
    session: Session, sealer: Sealer, attempt: Attempt, user: User, now: dt.datetime
) -> Outcome:
    """After a right password: the SMS or authenticator code, or a trusted network's waiver."""
    if attempt.sms_challenge is not None:
        return _check_sms(session, sealer, attempt, user, now)
    if not (attempt.otp or "").strip():
        waived = _trusted_network(session, attempt, user)
        if waived is not None:
            return waived
    return _check_totp(session, sealer, attempt, user, now)


def _check_directory(
    session: Session, sealer: Sealer, attempt: Attempt, user: User, *, bound: str, now: dt.datetime
) -> Outcome:
    """The directory said `bound` about the password; then our second factor as for any login."""
    if bound != directory_login.OK:
        return Outcome(None, bound)
    second = _second_factor(session, sealer, attempt, user, now)
    return replace(second, rule=f"directory-{second.rule}")


def _trusted_network(session: Session, attempt: Attempt, user: User) -> Outcome | None:
    """An internal user logging in (not confirming) from a trusted range needs no second factor."""
    if user.kind != "internal" or attempt.purpose != "login":
        return None
    found = networks.trusted_range(session, attempt.source_ip)
    if found is None:
        return None
    return Outcome(user, f"trusted-network:{found}", ("password", "network"))


def _check_totp(
    session: Session, sealer: Sealer, attempt: Attempt, user: User, now: dt.datetime
) -> Outcome:
    if user.totp_secret_sealed is None:
        return Outcome(None, "no-second-factor", ("password",))
    secret = sealer.open(user.totp_secret_sealed, context=f"totp:{user.id}")
    step = factors.matching_step(secret, (attempt.otp or "").strip(), now=now)
    if step is None:
        return Outcome(None, "wrong-otp", ("password",))
    if not use_step(session, user, step):
        return Outcome(None, "otp-reused", ("password",))
    return Outcome(user, "password+totp", ("password", "totp"))


def _check_sms(
    session: Session, sealer: Sealer, attempt: Attempt, user: User, now: dt.datetime
) -> Outcome:
    assert attempt.sms_challenge is not None
    ok = sms.check_code(
        session,
        sealer=sealer,
        challenge_id=attempt.sms_challenge,
        user_id=user.id,
        code=attempt.otp or "",
        now=now,
    )
    if not ok:
        return Outcome(None, "wrong-sms-code", ("password",))
    return Outcome(user, "password+sms", ("password", "sms"))


def use_step(session: Session, user: User, step: int) -> bool:
    """Each TOTP code works once: move the user's last used step forward, atomically."""
    moved = session.execute(
        update(User)
        .where(User.id == user.id)
        .where((User.totp_last_step.is_(None)) | (User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def _audited(  # noqa: PLR0917 - private helper, called twice with the same six values
    session: Session,
    attempt: Attempt,
    outcome: Outcome,
    user: User | None,
    source: LoginSource,
    now: dt.datetime,
) -> Outcome:
    payload = {
        "at": now,
        "user": user.id if user else None,
        "channel": attempt.channel,
        "purpose": attempt.purpose,
        "factors": list(outcome.factors),
        "result": "success" if outcome.ok else "failure",
        "rule": outcome.rule,
        "account_failures": user.failed_logins if user else None,
        "locked": bool(user is not None and user.locked_at is not None),
    }
    record_sealed(
        session,
        event=AuditEvent.AUTHN_SUCCEEDED if outcome.ok else AuditEvent.AUTHN_FAILED,
        actor=f"user:{user.id}" if user and outcome.ok else f"{attempt.channel}:anonymous",
        subject=f"user:{user.id}" if user else "user:unknown",
        payload=payload,
        person=user.id if user else None,
        details={"source_ip": attempt.source_ip, "source": source.source},
        at=now,
    )
    return outcome


def federated_second_factor(
    session: Session,
    *,
    sealer: Sealer,
    user_id: str,
    otp: str,
    method: str,
    source_ip: str | None,
    policy: LockoutPolicy,
    now: dt.datetime,
) -> Outcome:
    """Our authenticator code on top of a federated login that was not two factors by itself:
    the same throttles, lockout, single use of a code and audit entry as a password login."""
    attempt = Attempt("", "", otp, f"console-{method}", source_ip)
    return second_factor(
        session, sealer=sealer, user_id=user_id, attempt=attempt, method=method,
        policy=policy, now=now,
    )  # fmt: skip


def second_factor(
    session: Session,
    *,
    sealer: Sealer,
    user_id: str,
    attempt: Attempt,
    method: str,
    policy: LockoutPolicy,
    now: dt.datetime,
) -> Outcome:
    """The second factor alone (the authenticator's code, or an SMS code when the attempt names
    its challenge) for a user already known by `method` (a federated login, a secure link from
    her chat): the source and account throttles, lockout, single use and audit of any login."""
    source = lockout.lock_source(
        session, lockout.source_key(attempt.source_ip), policy=policy, now=now
    )
    user = lockout.lock_account_by_id(session, user_id)
    refused = lockout.refusal(source, user, now=now)
    if refused is not None:
        return _audited(session, attempt, Outcome(None, refused), user, source, now)
    if attempt.sms_challenge is not None:
        checked = _check_sms(session, sealer, attempt, user, now)
    else:
        checked = _check_totp(session, sealer, attempt, user, now)
    if checked.ok:
        lockout.clear_account(user)
        factor = checked.factors[-1]
        outcome = Outcome(user, f"{method}+{factor}", (method, factor))
    else:
        lockout.count_source_failure(session, source, policy=policy, now=now)
        lockout.count_account_failure(session, user, policy=policy, now=now)
        outcome = Outcome(None, checked.rule, (method,))
    return _audited(session, attempt, outcome, user, source, now)
