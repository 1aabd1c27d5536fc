"""`/api/v1/alerts` (the review queue) and `/api/v1/lexicon` (policies, approval, backtest).

Each route declares its right with `require(...)` and works in the request's transaction; the
services check the same rights again and audit every action.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import INT64_MAX, PlatformDep, SessionDep, VersionPath, require
from dealchat.conversations.transcript import Transcript
from dealchat.surveillance import alerts as queue
from dealchat.surveillance import backtest as preview
from dealchat.surveillance import store
from dealchat.surveillance.models import Alert, LexiconVersion

router = APIRouter(prefix="/api/v1", tags=["surveillance"])


def _alert(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "policy": alert.policy,
        "version": alert.policy_version,
        "rule": alert.rule,
        "category": alert.category,
        "severity": alert.severity,
        "subject": alert.subject,
        "status": alert.status,
        "assignee": alert.assignee_id,
        "escalation_level": alert.escalation_level,
        "disposition": alert.disposition,
        "raised_at": alert.raised_at.isoformat(),
    }


@router.get("/alerts")
def list_alerts(
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
    status: Annotated[str | None, Query(max_length=16)] = None,
    mine: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    rows = queue.list_alerts(
        db, actor=actor, status=status, assignee_id=actor.user_id if mine else None, limit=limit
    )
    return {"alerts": [_alert(row) for row in rows]}


@router.get("/alerts/{alert_id}")
def show_alert(
    alert_id: str,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_READ))],
) -> dict[str, Any]:
    view = queue.show(db, actor=actor, alert_id=alert_id, messages=Transcript(platform.desk))
    return view.as_json()


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=queue.MAX_COMMENT)


class Assignment(Comment):
    assignee: str = Field(min_length=1, max_length=64)


class Closing(Comment):
    disposition: queue.Disposition


@router.post("/alerts/{alert_id}/claim")
def claim(
    alert_id: str,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_REVIEW))],
) -> dict[str, Any]:
    return _alert(queue.claim(db, actor=actor, alert_id=alert_id))


@router.post("/alerts/{alert_id}/assign")
def assign(
    alert_id: str,
    body: Assignment,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_ASSIGN))],
) -> dict[str, Any]:
    done = queue.assign(
        db, actor=actor, alert_id=alert_id, assignee=body.assignee, comment=body.comment
    )
    return _alert(done)


@router.post("/alerts/{alert_id}/escalate")
def escalate(
    alert_id: str,
    body: Comment,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_REVIEW))],
) -> dict[str, Any]:
    return _alert(queue.escalate(db, actor=actor, alert_id=alert_id, comment=body.comment))


@router.post("/alerts/{alert_id}/close")
def close(
    alert_id: str,
    body: Closing,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ALERT_REVIEW))],
) -> dict[str, Any]:
    done = queue.close(
        db,
        actor=actor,
        alert_id=alert_id,
        disposition=body.disposition.value,
        comment=body.comment,
    )
    return _alert(done)


def _version(row: LexiconVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "state": row.state,
        "proposed_by": row.proposed_by,
        "proposed_at": row.proposed_at.isoformat(),
        "decided_by": row.decided_by,
        "note": row.note,
    }


@router.get("/lexicon")
def versions(
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.RULE_APPROVE))],
    name: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    return {"versions": [_version(row) for row in store.versions(db, actor=actor, name=name)]}


class Proposal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(min_length=1, max_length=store.MAX_SOURCE)
    note: str | None = Field(default=None, max_length=2000)


@router.post("/lexicon", status_code=201)
def propose(
    body: Proposal,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.LEXICON_EDIT))],
) -> dict[str, Any]:
    return _version(store.propose(db, actor=actor, source=body.source, note=body.note))


@router.post("/lexicon/{name}/{version}/approve")
def approve(
    name: str,
    version: VersionPath,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.RULE_APPROVE))],
) -> dict[str, Any]:
    return _version(store.approve(db, actor=actor, name=name, version=version))


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(min_length=1, max_length=2000)


@router.post("/lexicon/{name}/{version}/reject")
def reject(
    name: str,
    version: VersionPath,
    body: Rejection,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.RULE_APPROVE))],
) -> dict[str, Any]:
    return _version(store.reject(db, actor=actor, name=name, version=version, note=body.note))


class Backtest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str | None = Field(default=None, max_length=store.MAX_SOURCE)
    name: str | None = Field(default=None, max_length=64)
    version: int | None = Field(default=None, ge=1, le=INT64_MAX)
    days: int = Field(default=30, ge=1, le=3650)
    samples: int = Field(default=20, ge=0, le=500)


@router.post("/lexicon/backtest")
def backtest(
    body: Backtest,
    db: SessionDep,
    platform: PlatformDep,
    actor: Annotated[Actor, Depends(require(Right.LEXICON_EDIT))],
) -> dict[str, Any]:
    result = preview.backtest(
        db,
        actor=actor,
        messages=Transcript(platform.desk),
        since=platform.desk.clock() - dt.timedelta(days=body.days),
        source=body.source,
        name=body.name,
        version=body.version,
        samples=body.samples,
    )
    return result.as_json()
