"""A client's own password reset, from her linked chat: the bot sends a single-use, short-lived
link (it never asks for anything in the chat); the page first asks for her second factor (the
authenticator's code, or an SMS code when that is what she has), then a new password twice.

Two single-use links: the one the chat got (purpose `reset`) is spent by a right code and gives
the password page its own link (purpose `reset-set`, as short-lived), so a password is only ever
taken after the second factor. A wrong code counts in the lockout like any login's (the source
and account throttles, the hard lock) and on the link (5 tries). The new password follows the
rules (`passwords.check_new_password`, a client's 8-128 characters, the breached list), and
setting it ends every session of hers. Staff never reset here: theirs is a host operation.
Each step audited in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import accounts, login, service
from dealchat.identity.models import SecureLink, User
from dealchat.identity.parties import find_identity
from dealchat.identity.service import LINK_INVALID, AuthPolicy
from dealchat.records.sealing import Sealer

ASK, SET = "reset", "reset-set"  # the link purposes of the two pages


def offer(
    session: Session,
    *,
    channel: str,
    external_id: str,
    policy: AuthPolicy,
    now: dt.datetime,
    language: str | None,
) -> str | dt.datetime | None:
    """A reset link for the client this chat is linked to (also after her chat session ended);
    the expiry of a live one instead; None when no client is linked here."""
    if client_of(session, channel, external_id) is None:
        return None
    return service.issue_link_once(
        session,
        channel=channel,
        external_id=external_id,
        purpose=ASK,
        ticket_hash=None,
        policy=policy,
        now=now,
        language=language,
    )


def client_of(session: Session, channel: str, external_id: str) -> User | None:
    identity = find_identity(session, channel, external_id)
    user = session.get(User, identity.user_id) if identity is not None else None
    if user is None or user.kind != "external":
        return None
    return user


@dataclass(frozen=True)
class Opened:
    link: SecureLink
    user: User

    @property
    def by_sms(self) -> bool:
        """Her second factor is an SMS code (she has no authenticator)."""
        return self.user.totp_secret_sealed is None and bool(self.user.sms_phone)


def open_page(
    session: Session, token: str, *, purpose: str, now: dt.datetime, lock: bool = False
) -> Opened:
    """The live link and the client behind it, or LINK_INVALID (the same answer for all)."""
    link = service.open_link(session, token, now=now, purposes=(purpose,), lock=lock)
    user = client_of(session, link.channel, link.external_id)
    if user is None:
        raise DealchatError(ErrorCode.LINK_INVALID, LINK_INVALID, http_status=404)
    return Opened(link, user)


@dataclass(frozen=True)
class Proof:
    """What she typed on the first page, and where from."""

    code: str
    source_ip: str | None
    sms_challenge: str | None = None


def check_factor(
    session: Session,
    *,
    sealer: Sealer,
    token: str,
    proof: Proof,
    policy: AuthPolicy,
    now: dt.datetime,
) -> str | None:
    """Her second factor: right, the link is spent and the password page's link token returned;
    wrong, None (counted on the link and in the lockout; the caller commits either way)."""
    opened = open_page(session, token, purpose=ASK, now=now, lock=True)
    link, user = opened.link, opened.user
    attempt = login.Attempt(
        user.username,
        "",
        proof.code,
        f"reset-link:{link.channel}",
        proof.source_ip,
        sms_challenge=proof.sms_challenge,
        purpose="reset",
    )
    outcome = login.second_factor(
        session,
        sealer=sealer,
        user_id=user.id,
        attempt=attempt,
        method="reset-link",
        policy=policy.lockout,
        now=now,
    )
    if not outcome.ok:
        service.fail_link(session, link, now)
        return None
    service.use_link(session, link, now)
    return service.issue_link(
        session,
        channel=link.channel,
        external_id=link.external_id,
        purpose=SET,
        ticket_hash=None,
        policy=policy,
        now=now,
        language=link.language,
    )


def set_password(session: Session, *, token: str, password: str, now: dt.datetime) -> User:
    """The new password (the rules apply: a refusal spends nothing); every session ends."""
    opened = open_page(session, token, purpose=SET, now=now, lock=True)
    user = accounts.set_password(
        session,
        username=opened.user.username,
        password=password,
        actor=f"user:{opened.user.id}",
        now=now,
        how="reset",
    )
    service.use_link(session, opened.link, now)
    return user
