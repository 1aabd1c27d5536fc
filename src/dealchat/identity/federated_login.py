"""How every federated console login ends (OIDC and SAML alike): the access-log entry, then an
internal console session with the factors the provider vouched for; a refusal is audited with its
rule and answered with one page that never says which check failed."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from dealchat.api.deps import Platform
from dealchat.identity import federation, sessions
from dealchat.identity.models import User
from dealchat.identity.views import page

LOGIN_FAILED = "Login through your bank account failed. Try again or ask the service desk."
AFTER_LOGIN = "/console/"


def refused(
    session: Session, *, rule: str, method: str, source_ip: str | None, now: dt.datetime
) -> HTMLResponse:
    """Audit the refusal with its rule; the browser gets the same page whatever failed."""
    federation.audit_decision(
        session, user=None, rule=rule, source_ip=source_ip, now=now, method=method
    )
    return HTMLResponse(page(f"<p>{html.escape(LOGIN_FAILED)}</p>", 401).body, 401)


def sign_in(
    session: Session,
    platform: Platform,
    *,
    user: User,
    method: str,
    rule: str,
    claims: dict[str, Any],
    source_ip: str | None,
    now: dt.datetime,
) -> sessions.Started:
    """The success entry and a new internal console session (factors: `method`)."""
    federation.audit_decision(
        session,
        user=user,
        rule=rule,
        source_ip=source_ip,
        now=now,
        claims=claims,
        method=method,
    )
    return sessions.start(
        session,
        user=user,
        factors=(method,),
        source_ip=source_ip,
        channel="console",
        policy=platform.session_policy,
        now=now,
    )
