"""Reading the audit log back in tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.records.personal import reveal


def entries(platform: Platform, *events: str) -> list[dict[str, Any]]:
    """Each entry of these events, oldest first, as its payload (sealed details opened, as the
    access log reads them) plus event, actor, subject and the scope that seals its details."""
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.event.in_(events)).order_by(AuditEntry.seq)
        ).all()
        return [_read(session, row) for row in rows]


def _read(session: Session, row: AuditEntry) -> dict[str, Any]:
    payload = json.loads(row.payload)
    read = {
        **reveal(session, payload),
        "event": row.event,
        "actor": row.actor,
        "subject": row.subject,
    }
    if isinstance(payload.get("sealed"), dict):
        read["sealed_scope"] = payload["sealed"]["scope"]  # whose key seals the details
    return read


def rules(platform: Platform) -> list[str]:
    """The rule of every authentication decision, in order."""
    return [entry["rule"] for entry in entries(platform, "authn:succeeded", "authn:failed")]
