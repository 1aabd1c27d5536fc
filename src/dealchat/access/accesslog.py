"""Reading the access log: the authorisation decisions in the audit log, newest first.

Each decision's personal details (username, source address, operation) are opened from their
seal (`records.personal`); once retention erased them the decision reads `erased: true`, its
time, user id, right, result and rule still shown."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.records.models import ACCESS_DECISIONS, ACCESS_INDEXED, AuditEntry
from dealchat.records.personal import reveal

DECISIONS = ACCESS_DECISIONS
MAX_LIMIT = 500


def decisions(
    session: Session,
    *,
    user_id: str | None = None,
    result: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Decisions (of one user, only `allowed` or `denied` if asked), newest first, paged by seq."""
    events = DECISIONS if result is None else (f"access:{result}",)
    query = (
        select(AuditEntry)
        .where(ACCESS_INDEXED, AuditEntry.event.in_(events))
        .order_by(AuditEntry.seq.desc())
        .limit(max(1, min(limit, MAX_LIMIT)))
    )
    if user_id is not None:
        query = query.where(AuditEntry.actor == f"user:{user_id}")
    if before_seq is not None:
        query = query.where(AuditEntry.seq < before_seq)
    return [
        {"seq": entry.seq, "event": entry.event, **reveal(session, json.loads(entry.payload))}
        for entry in session.scalars(query)
    ]
