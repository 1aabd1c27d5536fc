"""Single-use report links: only the token's hash is stored; the link works once, for the user it
was issued to, until it expires; issuing is audited, and so is the export it leads to."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from dealchat.records.chain import canonical_json
from dealchat.records.events import AuditEvent
from dealchat.records.reports_models import ReportLink
from dealchat.records.service import record_new


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(
    session: Session,
    *,
    user_id: str,
    params: dict[str, Any],
    ttl: dt.timedelta,
    now: dt.datetime,
    actor: str,
) -> str:
    """A new link token (shown once, never stored) for `user_id` to fetch the report `params`."""
    token = secrets.token_urlsafe(32)
    link = ReportLink(
        token_hash=_hash(token),
        user_id=user_id,
        params=canonical_json(params),
        created_at=now,
        expires_at=now + ttl,
    )
    record_new(
        session,
        link,
        event=AuditEvent.REPORT_LINK_ISSUED,
        actor=actor,
        kind="reportlink",
        payload={"user": user_id, "params": params, "expires_at": link.expires_at},
    )
    return token


def spend(session: Session, *, token: str, user_id: str, now: dt.datetime) -> dict[str, Any]:
    """The report parameters, once; LookupError if unknown, used, expired or someone else's."""
    spent = session.execute(
        update(ReportLink)
        .where(
            ReportLink.token_hash == _hash(token),
            ReportLink.user_id == user_id,
            ReportLink.used_at.is_(None),
            ReportLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(ReportLink.params)
    ).scalar_one_or_none()
    if spent is None:
        raise LookupError("this report link is not valid (used, expired or not yours)")
    params: dict[str, Any] = json.loads(spent)
    return params
