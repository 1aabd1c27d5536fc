"""Spent security rows: deleted by `dealchat retention run` once past a short grace.

A secure link (login or step-up) and a step-up proof carry a chat handle in clear, a console
session its source address; an SMS challenge, a TOTP enrolment and an OIDC login hold a user id
and a sealed secret; a SAML login in flight, an accepted assertion's ID (kept against replay until
the assertion has expired) and a SAML session's sealed NameID (until its console session's
absolute expiry) likewise. Each is single-use and short-lived: once it has expired (used or
not) nothing reads it again (a used or expired token is refused before its row matters), and
its issue and use are in the audit log, so `purge` deletes it `grace` after its expiry. A
console session goes `grace` after it expired or was revoked. The count per table goes into
the run's report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import ColumnElement, delete, or_
from sqlalchemy.orm import Session

from dealchat.identity.models import (
    OidcLogin,
    SamlAssertion,
    SamlLogin,
    SamlSession,
    SecureLink,
    SmsChallenge,
    StepUpProof,
    TotpEnrolment,
)
from dealchat.identity.session_models import AuthSession
from dealchat.records.retention import Sweep

Ended = Callable[[dt.datetime], ColumnElement[bool]]

# name in the report -> (table, "ended before the cutoff")
SPENT: dict[str, tuple[type, Ended]] = {
    "secure_links": (SecureLink, lambda cutoff: SecureLink.expires_at <= cutoff),
    "stepup_proofs": (StepUpProof, lambda cutoff: StepUpProof.expires_at <= cutoff),
    "sms_challenges": (SmsChallenge, lambda cutoff: SmsChallenge.expires_at <= cutoff),
    "totp_enrolments": (TotpEnrolment, lambda cutoff: TotpEnrolment.expires_at <= cutoff),
    "oidc_logins": (OidcLogin, lambda cutoff: OidcLogin.expires_at <= cutoff),
    "saml_logins": (SamlLogin, lambda cutoff: SamlLogin.expires_at <= cutoff),
    "saml_assertions": (SamlAssertion, lambda cutoff: SamlAssertion.expires_at <= cutoff),
    "saml_sessions": (SamlSession, lambda cutoff: SamlSession.expires_at <= cutoff),
    "console_sessions": (
        AuthSession,
        lambda cutoff: or_(AuthSession.expires_at <= cutoff, AuthSession.revoked_at <= cutoff),
    ),
}


def purge(session: Session, *, name: str, grace: dt.timedelta, now: dt.datetime) -> int:
    """Delete the rows of SPENT[name] that ended `grace` before `now`; how many went."""
    model, ended = SPENT[name]
    gone = session.execute(
        delete(model).where(ended(now - grace)).execution_options(synchronize_session=False)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def sweeps(grace: dt.timedelta) -> dict[str, Sweep]:
    """One sweep per table, for `records.retention.run`."""
    return {name: _sweep(name, grace) for name in SPENT}


def _sweep(name: str, grace: dt.timedelta) -> Sweep:
    return lambda session, now: purge(session, name=name, grace=grace, now=now)
