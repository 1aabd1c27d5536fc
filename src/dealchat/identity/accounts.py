"""Account administration: change a password, unlock after the hard threshold. Each audited."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import lockout, passwords, sessions, sms
from dealchat.identity.models import ChatIdentity, User
from dealchat.records.events import AuditEvent
from dealchat.records.service import record


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such user", http_status=404)
    return user


def set_password(
    session: Session,
    *,
    username: str,
    password: str,
    actor: str,
    now: dt.datetime,
    how: str = "set",  # set (an administrator on the host) | reset (her own, behind a link)
) -> User:
    """Check the new password against the rules, store its hash, end every session of the
    user (chat, console, API tokens)."""
    user = find_user(session, username)
    try:
        passwords.check_new_password(password, username=user.username, kind=user.kind)
    except passwords.PasswordRejectedError as exc:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(exc)) from exc
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = now
    ended = end_every_session(session, user, reason="password changed", now=now)
    record(
        session,
        event=AuditEvent.USER_PASSWORD_CHANGED,
        actor=actor,
        subject=f"user:{user.id}",
        payload={"at": now, "chat_sessions_ended": ended, "how": how},
    )
    return user


def end_every_session(session: Session, user: User, *, reason: str, now: dt.datetime) -> int:
    """A password or factor change: the user's chat sessions, console sessions and API tokens
    all end (the chat sessions ended are returned; `revoke_all` audits the rest)."""
    session.flush()  # revoke_all expires the session's objects
    ended = revoke_chat_sessions(session, user, now=now)
    sessions.revoke_all(session, user_id=user.id, reason=reason, now=now)
    return ended


def end_sessions(session: Session, *, username: str, actor: str, now: dt.datetime) -> int:
    """An administrator ends every chat and console session and API token of a user."""
    user = find_user(session, username)
    user_id = user.id
    chats = revoke_chat_sessions(session, user, now=now)
    others = sessions.revoke_all(
        session, user_id=user_id, reason="ended by an administrator", now=now
    )
    record(
        session,
        event=AuditEvent.USER_SESSIONS_ENDED,
        actor=actor,
        subject=f"user:{user_id}",
        payload={"at": now, "chat_sessions": chats, "sessions_and_tokens": others},
    )
    return chats + others


def revoke_chat_sessions(session: Session, user: User, *, now: dt.datetime) -> int:
    """End the chat session of every chat identity of `user`: the chats must log in again. The
    identities stay (the handles were the user's: holds and reports find them) until retention
    deletes them."""
    result = session.execute(
        update(ChatIdentity)
        .where(ChatIdentity.user_id == user.id, ChatIdentity.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def unlock(session: Session, *, username: str, actor: str, now: dt.datetime) -> User:
    """An administrator clears the failure count, the delay and the hard lock."""
    user = find_user(session, username)
    before = {"failures": user.failed_logins, "locked": user.locked_at is not None}
    lockout.clear_account(user)
    record(
        session,
        event=AuditEvent.USER_UNLOCKED,
        actor=actor,
        subject=f"user:{user.id}",
        payload={"at": now, **before},
    )
    return user


PHONE = re.compile(r"\+[1-9][0-9]{6,14}")


def set_phone(
    session: Session, *, username: str, phone: str, actor: str, now: dt.datetime | None = None
) -> User:
    """The E.164 number SMS codes go to: a factor change, so every session of the user ends."""
    phone = phone.replace(" ", "")
    if not PHONE.fullmatch(phone):
        raise DealchatError(ErrorCode.BAD_REQUEST, "phone: E.164, e.g. +447700900123")
    when = now or dt.datetime.now(dt.UTC)
    user = find_user(session, username)
    user_id, changed = user.id, user.sms_phone != phone
    user.sms_phone = phone
    ended = end_every_session(session, user, reason="phone changed", now=when) if changed else 0
    record(
        session,
        event=AuditEvent.USER_PHONE_SET,
        actor=actor,
        subject=f"user:{user_id}",
        payload={"phone": sms.masked(phone), "chat_sessions_ended": ended},
    )
    return user
