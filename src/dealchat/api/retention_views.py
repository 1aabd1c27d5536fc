"""`/api/v1/retention/holds`: legal holds over HTTP, for holders of legal_hold:manage. Setting and
lifting need a reason and are audited under the signed-in user's name."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require
from dealchat.errors import DealchatError, ErrorCode
from dealchat.records import retention
from dealchat.records.retention_models import LegalHold

router = APIRouter(prefix="/api/v1/retention", tags=["retention"])

Manager = Annotated[Actor, Depends(require(Right.LEGAL_HOLD_MANAGE))]
_ID = r"^[A-Za-z0-9._:-]{1,128}$"


class NewHold(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["client", "user", "conversation", "order"]
    target: str = Field(pattern=_ID)
    reason: str = Field(min_length=3, max_length=2000)


class Lift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=3, max_length=2000)


def hold_json(hold: LegalHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "kind": hold.kind,
        "target": hold.target,
        "reason": hold.reason,
        "set_by": hold.set_by,
        "set_at": hold.set_at.isoformat(),
        "lifted_at": None if hold.lifted_at is None else hold.lifted_at.isoformat(),
        "lifted_by": hold.lifted_by,
        "lift_reason": hold.lift_reason,
    }


@router.get("/holds")
def list_holds(db: SessionDep, actor: Manager) -> list[dict[str, Any]]:
    """The active legal holds, oldest first."""
    return [hold_json(hold) for hold in retention.active_holds(db)]


@router.post("/holds", status_code=201)
def set_hold(
    body: NewHold, db: SessionDep, platform: PlatformDep, actor: Manager
) -> dict[str, Any]:
    """Put a client, an internal user (by user id), a conversation or an order on legal hold: it
    wins over retention expiry; a client or user hold keeps their access log too."""
    try:
        hold = retention.set_hold(
            db,
            kind=body.kind,
            target=body.target,
            reason=body.reason,
            actor=actor.audit_name,
            now=platform.desk.clock(),
        )
    except ValueError as error:
        raise DealchatError(ErrorCode.BAD_REQUEST, str(error)) from error
    return hold_json(hold)


@router.post("/holds/{hold_id}/lift")
def lift_hold(
    hold_id: Annotated[str, Path(pattern=_ID)],
    body: Lift,
    db: SessionDep,
    platform: PlatformDep,
    actor: Manager,
) -> dict[str, Any]:
    """Lift an active hold; expired content it kept goes at the next retention run."""
    try:
        hold = retention.lift_hold(
            db,
            hold_id=hold_id,
            reason=body.reason,
            actor=actor.audit_name,
            now=platform.desk.clock(),
        )
    except LookupError as error:
        raise DealchatError(ErrorCode.NOT_FOUND, str(error), http_status=404) from error
    return hold_json(hold)
