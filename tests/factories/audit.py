"""Reading the audit log back in tests."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.records.personal import reveal


def entries(platform: Platform, *events: str) -> list[dict[str, Any]]:
    """Each entry of these events, oldest first, as its payload (sealed access-log details opened,
    as the access log reads them) plus event, actor and subject."""
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.event.in_(events)).order_by(AuditEntry.seq)
        ).all()
        return [
            {
                **reveal(session, json.loads(row.payload)),
                "event": row.event,
                "actor": row.actor,
                "subject": row.subject,
            }
            for row in rows
        ]


def rules(platform: Platform) -> list[str]:
    """The rule of every authentication decision, in order."""
    return [entry["rule"] for entry in entries(platform, "authn:succeeded", "authn:failed")]
