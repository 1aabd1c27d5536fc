"""Single-use links from chat: to an audit report (for the internal user it was issued to, signed
in) or to an order receipt (for the client's chat, no login). Only the token's hash is stored; a
link works once, for its purpose, until it expires; issuing is audited, and so is what it gives."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import delete, select, update
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
    purpose: str = "report",
) -> str:
    """A new link token (shown once, never stored) for `user_id` to fetch what `params` name."""
    token = secrets.token_urlsafe(32)
    params = {**params, "purpose": purpose}
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


def spend(
    session: Session,
    *,
    token: str,
    user_id: str | None,
    now: dt.datetime,
    purpose: str = "report",
) -> dict[str, Any]:
    """The link's parameters, once; LookupError if unknown, used, expired, for another purpose,
    or (when `user_id` is given) someone else's."""
    conditions = [
        ReportLink.token_hash == _hash(token),
        ReportLink.used_at.is_(None),
        ReportLink.expires_at > now,
    ]
    if user_id is not None:
        conditions.append(ReportLink.user_id == user_id)
    link = session.scalars(select(ReportLink).where(*conditions)).first()
    params: dict[str, Any] = {} if link is None else json.loads(link.params)
    if link is None or params.get("purpose", "report") != purpose:
        raise LookupError(f"this {purpose} link is not valid (used, expired or not yours)")
    spent = session.execute(
        update(ReportLink)
        .where(ReportLink.id == link.id, ReportLink.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise LookupError(f"this {purpose} link was just used")
    return params


def peek(session: Session, *, token: str, now: dt.datetime, purpose: str) -> dict[str, Any]:
    """A live link's parameters without using it (a page showing its form); LookupError as
    `spend` when it is unknown, used, expired or for another purpose."""
    link = session.scalars(
        select(ReportLink).where(
            ReportLink.token_hash == _hash(token),
            ReportLink.used_at.is_(None),
            ReportLink.expires_at > now,
        )
    ).first()
    params: dict[str, Any] = {} if link is None else json.loads(link.params)
    if link is None or params.get("purpose", "report") != purpose:
        raise LookupError(f"this {purpose} link is not valid (used, expired or not yours)")
    return params


def purge(session: Session, *, grace: dt.timedelta, now: dt.datetime) -> int:
    """Delete the links (report, receipt, upload, enrolment) that expired `grace` before `now`,
    used or not: nothing reads them again, and their issue and use are audit entries."""
    gone = session.execute(
        delete(ReportLink)
        .where(ReportLink.expires_at <= now - grace)
        .execution_options(synchronize_session=False)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]
