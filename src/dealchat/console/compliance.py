"""The compliance officer's home: each daily task one click from here (two from anywhere):
today's alerts by severity, search, reviews past their deadline, held orders awaiting a second
person, lexicon and rule versions awaiting approval, legal holds in force, exports made."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require
from dealchat.console.pages import csrf_for, render
from dealchat.controls.models import Hold, RuleSetVersion
from dealchat.identity.models import User
from dealchat.records.models import AuditEntry
from dealchat.records.retention_models import LegalHold
from dealchat.surveillance import reviews
from dealchat.surveillance.models import Alert, LexiconVersion

router = APIRouter(prefix="/console/compliance", include_in_schema=False)
EXPORTS_SHOWN = 20


@router.get("")
def home(
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
) -> Response:
    now = platform.desk.clock()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    severities = dict(
        db.execute(
            select(Alert.severity, func.count())
            .where(Alert.raised_at >= today, Alert.raised_at < today + dt.timedelta(days=1))
            .group_by(Alert.severity)
        ).all()
    )
    queue = reviews.queue(db, actor=actor, now=now)
    exports = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.event == "report:exported")
        .order_by(AuditEntry.seq.desc())
        .limit(EXPORTS_SHOWN)
    ).all()
    return render(
        "compliance.html", actor=actor, csrf=csrf_for(request), severities=severities,
        overdue=[item.review for item in queue if item.overdue], open_reviews=len(queue),
        held=db.scalar(select(func.count()).select_from(Hold).where(Hold.state == "open")),
        lexicons=db.scalars(select(LexiconVersion).where(LexiconVersion.state == "proposed")).all(),
        rulesets=db.scalars(select(RuleSetVersion).where(RuleSetVersion.state == "proposed")).all(),
        holds=db.scalars(select(LegalHold).where(LegalHold.lifted_at.is_(None))).all(),
        exports=_exports(db, exports),
    )  # fmt: skip


def _exports(db: SessionDep, entries: Sequence[AuditEntry]) -> list[dict[str, Any]]:
    """Each export as the home lists it: when, by whom (their name), what and how much."""
    ids = {e.actor.removeprefix("user:") for e in entries if e.actor.startswith("user:")}
    names = {u.id: f"{u.shown_name} ({u.username})" for u in
             db.scalars(select(User).where(User.id.in_(ids)))} if ids else {}  # fmt: skip
    shown = []
    for entry in entries:
        payload = json.loads(entry.payload)
        filters = payload.get("filters") or {}
        what = "; ".join(f"{name} {value}" for name, value in sorted(filters.items()))
        shown.append({
            "at": entry.at, "by": names.get(entry.actor.removeprefix("user:"), entry.actor),
            "format": payload.get("format"), "what": what or "every entry",
            "window": (payload.get("from"), payload.get("to")), "entries": payload.get("entries"),
        })  # fmt: skip
    return shown
