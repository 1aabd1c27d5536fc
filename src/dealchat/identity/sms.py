"""SMS codes: 6 digits, single use, valid 5 minutes, 5 tries, at most 3 sends per challenge (30 s
apart) and 5 per user per hour. The code is sealed at rest and sent only after commit.

Senders (the `SmsSender` port): `ConsoleSms` writes the message to the operator's terminal for the
demo (a stream, never the logging system); `CapturingSms` hands messages to tests in memory.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets
import sys
from dataclasses import dataclass, field
from typing import TextIO

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dealchat.db.session import after_commit
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity.interfaces import SmsSender
from dealchat.identity.lockout import lock_account_by_id
from dealchat.identity.models import SmsChallenge, User
from dealchat.records.events import AuditEvent
from dealchat.records.sealing import Sealer
from dealchat.records.service import record, record_new

CODE_TTL = dt.timedelta(minutes=5)
MAX_TRIES = 5
MAX_SENDS = 3
RESEND_AFTER = dt.timedelta(seconds=30)
MAX_SENDS_PER_HOUR = 5


class ConsoleSms:
    """The demo's phone: prints each message to a terminal stream (stderr), not to the log."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr

    def send(self, *, to: str, text: str) -> None:
        print(f"[sms to {to}] {text}", file=self._stream, flush=True)


@dataclass
class CapturingSms:
    """A phone for tests: keeps every message in memory, logs nothing."""

    sent: list[tuple[str, str]] = field(default_factory=list)

    def send(self, *, to: str, text: str) -> None:
        self.sent.append((to, text))

    def last_code(self, to: str) -> str:
        for number, text in reversed(self.sent):
            if number == to:
                found: list[str] = re.findall(r"\b[0-9]{6}\b", text)
                return found[0]
        raise LookupError(f"no message to {to}")


MIN_HIDDEN = 6  # digits a mask always hides: a million candidates at least


def masked(phone: str) -> str:
    """The number as the audit log may show it: `+44********23` (country prefix and last two
    digits kept only while at least MIN_HIDDEN digits stay hidden, fewer shown otherwise)."""
    hidden = max(len(phone) - 5, MIN_HIDDEN)
    shown = max(len(phone) - hidden, 0)
    head, tail = min(3, shown), max(shown - 3, 0)
    return phone[:head] + "*" * (len(phone) - head - tail) + (phone[-tail:] if tail else "")


def _too_many(message: str) -> DealchatError:
    return DealchatError(ErrorCode.BAD_REQUEST, message, http_status=429)


def _deliver(session: Session, sms: SmsSender, phone: str, code: str) -> None:
    text = f"Your dealchat code is {code}. It expires in 5 minutes. Never share it."
    after_commit(session, lambda: sms.send(to=phone, text=text))


def send_code(
    session: Session, *, sealer: Sealer, sms: SmsSender, user: User, now: dt.datetime
) -> str:
    """A new challenge for `user`; the code leaves after commit. Returns the challenge id."""
    if not user.sms_phone:
        raise DealchatError(ErrorCode.CONFLICT, "no phone number for SMS codes", http_status=409)
    lock_account_by_id(session, user.id)  # parallel sends for one user count one after another
    sent_last_hour = session.scalar(
        select(func.coalesce(func.sum(SmsChallenge.sends), 0)).where(
            SmsChallenge.user_id == user.id, SmsChallenge.sent_at > now - dt.timedelta(hours=1)
        )
    )
    if int(sent_last_hour or 0) >= MAX_SENDS_PER_HOUR:
        raise _too_many("Too many codes sent. Try again later.")
    code = f"{secrets.randbelow(10**6):06d}"
    row = SmsChallenge(user_id=user.id, code_sealed="", created_at=now, sent_at=now)
    row.expires_at, row.sends = now + CODE_TTL, 1
    record_new(
        session,
        row,
        event=AuditEvent.SMS_CODE_SENT,
        actor=f"user:{user.id}",
        kind="sms-challenge",
        payload={"to": masked(user.sms_phone), "sends": 1, "expires_at": row.expires_at},
    )
    row.code_sealed = sealer.seal(code, context=f"sms:{row.id}")
    _deliver(session, sms, user.sms_phone, code)
    return row.id


def _locked(session: Session, challenge_id: str) -> SmsChallenge | None:
    return session.scalars(
        select(SmsChallenge)
        .where(SmsChallenge.id == challenge_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def resend(
    session: Session, *, sealer: Sealer, sms: SmsSender, challenge_id: str, now: dt.datetime
) -> None:
    """A new code for the same challenge (the old one stops working), within the resend limits."""
    row = _locked(session, challenge_id)
    if row is None or row.used_at is not None or row.failed_attempts >= MAX_TRIES:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such code to resend", http_status=404)
    if row.sends >= MAX_SENDS or now - row.sent_at < RESEND_AFTER:
        raise _too_many("Wait before asking for another code.")
    user = session.get(User, row.user_id)
    assert user is not None
    if not user.sms_phone:
        raise DealchatError(ErrorCode.CONFLICT, "no phone number for SMS codes", http_status=409)
    code = f"{secrets.randbelow(10**6):06d}"
    row.code_sealed = sealer.seal(code, context=f"sms:{row.id}")
    row.sends, row.sent_at, row.expires_at = row.sends + 1, now, now + CODE_TTL
    record(
        session,
        event=AuditEvent.SMS_CODE_SENT,
        actor=f"user:{user.id}",
        subject=f"sms-challenge:{row.id}",
        payload={"to": masked(user.sms_phone), "sends": row.sends, "expires_at": row.expires_at},
    )
    _deliver(session, sms, user.sms_phone, code)


def check_code(
    session: Session,
    *,
    sealer: Sealer,
    challenge_id: str,
    user_id: str,
    code: str,
    now: dt.datetime,
) -> bool:
    """True once for the right code within 5 minutes and 5 tries; the caller counts failures."""
    row = _locked(session, challenge_id)
    if row is None or row.user_id != user_id:
        return False
    if row.used_at is not None or row.expires_at <= now or row.failed_attempts >= MAX_TRIES:
        return False
    expected = sealer.open(row.code_sealed, context=f"sms:{row.id}")
    if not hmac.compare_digest(expected.encode(), code.strip().encode()):
        row.failed_attempts += 1  # under the challenge's row lock (`_locked`)
        record(
            session,
            event=AuditEvent.SMS_CODE_FAILED,
            actor=f"user:{user_id}",
            subject=f"sms-challenge:{row.id}",
            payload={"tries": row.failed_attempts},
        )
        return False
    spent = session.execute(
        update(SmsChallenge)
        .where(SmsChallenge.id == row.id, SmsChallenge.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:  # type: ignore[attr-defined]
        return False
    record(
        session,
        event=AuditEvent.SMS_CODE_USED,
        actor=f"user:{user_id}",
        subject=f"sms-challenge:{row.id}",
        payload={"at": now},
    )
    return True
