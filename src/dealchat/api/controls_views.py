"""Pre-trade controls over HTTP: the four-eyes queue and rule versions, behind `require(...)`.

`GET /api/v1/holds` lists held orders with the rules that held them (order:approve).
`POST /api/v1/holds/{id}/approve` is level 2: a step-up proof bound to the order's ticket hash.
`POST /api/v1/holds/{id}/abort` stops a held order (order:approve).
`GET /api/v1/rules`, `POST /api/v1/rules/versions` (rule:edit), `POST /api/v1/rules/versions/
{id}/approve|refuse` (rule:approve, level 2 bound to the version's sha256), `POST /api/v1/rules/
backtest` (rule:edit).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require, spend_proof
from dealchat.controls import holds, rulesets
from dealchat.controls.backtest import backtest
from dealchat.controls.definitions import RuleSet, parse_ruleset
from dealchat.controls.models import RuleSetVersion
from dealchat.controls.service import PreTrade
from dealchat.conversations import pretrade
from dealchat.errors import DealchatError, ErrorCode

router = APIRouter(prefix="/api/v1", tags=["controls"])

Approver = Annotated[Actor, Depends(require(Right.ORDER_APPROVE))]
ProvenApprover = Annotated[Actor, Depends(require(Right.ORDER_APPROVE, level=2, max_age=600))]
RuleEditor = Annotated[Actor, Depends(require(Right.RULE_EDIT))]
RuleApprover = Annotated[Actor, Depends(require(Right.RULE_APPROVE, level=2, max_age=600))]
_STATES = "^(open|released|aborted|expired|all)$"


class Comment(BaseModel):
    comment: str = Field(default="", max_length=500)


class Reason(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class Proposal(BaseModel):
    yaml: str = Field(min_length=1, max_length=200_000)
    comment: str = Field(default="", max_length=500)


class BacktestRequest(BaseModel):
    yaml: str | None = Field(default=None, max_length=200_000)
    version_id: str | None = Field(default=None, max_length=32)
    days: int = Field(default=30, ge=1, le=3650)


def _hold_json(view: holds.HoldView) -> dict[str, Any]:
    hold, order, decision = view.hold, view.order, view.decision
    return {
        "id": hold.id,
        "ref": order.ref,
        "state": hold.state,
        "required": hold.required,
        "approvers": list(view.approvers),
        "expires_at": hold.expires_at.isoformat(),
        "order": {
            "side": order.side,
            "instrument": order.pair or order.isin,
            "quantity": str(order.quantity),
            "dealt_currency": order.dealt_currency,
            "ticket_hash": order.ticket_hash,
            "state": order.state,
        },
        "decision": {**json.loads(decision.detail), "explanation": decision.explanation},
    }


@router.get("/holds")
def list_holds(db: SessionDep, actor: Approver, state: str = "open") -> dict[str, Any]:
    if state not in ("open", "released", "aborted", "expired", "all"):
        raise DealchatError(ErrorCode.BAD_REQUEST, "state: open, released, aborted, expired or all")
    found = holds.views(db, state=None if state == "all" else state)
    return {"holds": [_hold_json(view) for view in found]}


@router.post("/holds/{hold_id}/approve")
def approve_hold(
    *,
    hold_id: str,
    body: Comment,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: ProvenApprover,
) -> dict[str, str]:
    """Level 2: the caller's step-up proof must be bound to the held order's ticket hash."""
    found = _hold(db, hold_id)
    spend_proof(request, db, actor, found.order.ticket_hash)
    order = pretrade.approve_hold(
        db,
        desk=platform.desk,
        hold_id=found.hold.id,
        actor=actor,
        comment=body.comment,
        now=platform.desk.clock(),
    )
    return {"ref": order.ref, "state": order.state}


@router.post("/holds/{hold_id}/abort")
def abort_hold(
    hold_id: str, body: Reason, db: SessionDep, platform: PlatformDep, actor: Approver
) -> dict[str, str]:
    found = _hold(db, hold_id)
    order = pretrade.abort_hold(
        db,
        desk=platform.desk,
        hold_id=found.hold.id,
        actor=actor,
        reason=body.reason,
        now=platform.desk.clock(),
    )
    return {"ref": order.ref, "state": order.state}


def _hold(db: SessionDep, hold_or_ref: str) -> holds.HoldView:
    found = holds.find(db, hold_or_ref=hold_or_ref[:64])
    views = [] if found is None else holds.views(db, state=None, hold_id=found.id)
    if not views:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such hold", http_status=404)
    return views[0]


def _pretrade(platform: PlatformDep) -> PreTrade:
    if platform.desk.pretrade is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "pre-trade controls are off", http_status=404)
    return platform.desk.pretrade


@router.get("/rules")
def get_rules(db: SessionDep, platform: PlatformDep, actor: RuleEditor) -> dict[str, Any]:
    active = rulesets.active_ruleset(db, fallback=_pretrade(platform).fallback)
    return {
        "active": active.model_dump(mode="json"),
        "versions": [_version_json(row) for row in rulesets.versions(db, name=active.name)],
    }


def _version_json(row: RuleSetVersion) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "version": row.version,
        "state": row.state,
        "sha256": row.sha256,
        "proposed_by": row.proposed_by,
        "decided_by": row.decided_by,
        "comment": row.comment,
    }


@router.post("/rules/versions", status_code=201)
def propose_rules(
    body: Proposal, db: SessionDep, platform: PlatformDep, actor: RuleEditor
) -> dict[str, Any]:
    current = rulesets.active_ruleset(db, fallback=_pretrade(platform).fallback)
    row = rulesets.propose(
        db,
        text=body.yaml,
        actor=actor,
        comment=body.comment,
        now=platform.desk.clock(),
        current=current,
    )
    return _version_json(row)


@router.post("/rules/versions/{version_id}/{verdict}")
def decide_rules(
    *,
    version_id: str,
    verdict: str,
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: RuleApprover,
) -> dict[str, Any]:
    """Level 2: the step-up proof must be bound to the version's sha256."""
    if verdict not in ("approve", "refuse"):
        raise DealchatError(ErrorCode.NOT_FOUND, "approve or refuse", http_status=404)
    row = db.get(RuleSetVersion, version_id[:32])
    if row is None:
        raise DealchatError(ErrorCode.NOT_FOUND, "no such rule set version", http_status=404)
    spend_proof(request, db, actor, row.sha256)
    decided = rulesets.decide_proposal(
        db,
        version_id=row.id,
        actor=actor,
        approve=verdict == "approve",
        now=platform.desk.clock(),
    )
    return _version_json(decided)


@router.post("/rules/backtest")
def backtest_rules(
    body: BacktestRequest, db: SessionDep, platform: PlatformDep, actor: RuleEditor
) -> dict[str, object]:
    chosen = _pretrade(platform)
    ruleset: RuleSet
    try:
        if body.yaml is not None:
            ruleset = parse_ruleset(body.yaml)
        elif body.version_id is not None:
            row = db.get(RuleSetVersion, body.version_id)
            if row is None:
                raise DealchatError(ErrorCode.NOT_FOUND, "no such version", http_status=404)
            ruleset = parse_ruleset(row.body)
        else:
            ruleset = rulesets.active_ruleset(db, fallback=chosen.fallback)
    except ValueError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, f"invalid rule set: {error}") from error
    since = platform.desk.clock() - dt.timedelta(days=body.days)
    return backtest(db, ruleset=ruleset, rates=chosen.rates, since=since).as_dict()
