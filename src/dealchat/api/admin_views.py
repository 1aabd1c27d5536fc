"""`/api/v1/admin`: roles, grants, assignments, user attributes, API tokens, session revocation
and second factor resets (four eyes).

Reads need `role:manage` / `user:manage`; changes also need a login at most 15 minutes old
(RFC 9470 `max_age`; `POST /api/v1/auth/stepup` refreshes it).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from dealchat.access import accesslog
from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SeqQuery, SessionDep, require
from dealchat.identity import management, sessions
from dealchat.identity.session_models import ApiToken

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])
FRESH = 900
ReadRoles = Annotated[Actor, Depends(require(Right.ROLE_MANAGE))]
ChangeRoles = Annotated[Actor, Depends(require(Right.ROLE_MANAGE, max_age=FRESH))]
ReadUsers = Annotated[Actor, Depends(require(Right.USER_MANAGE))]
ChangeUsers = Annotated[Actor, Depends(require(Right.USER_MANAGE, max_age=FRESH))]
NAME = r"^[a-z][a-z0-9_-]{1,63}$"
USERNAME = r"^[a-z0-9][a-z0-9._-]{2,63}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RoleIn(Strict):
    name: str = Field(pattern=NAME)
    description: str = Field(default="", max_length=255)


class GrantIn(Strict):
    right: Right
    conditions: dict[str, list[str]] = Field(default_factory=dict, max_length=3)


class AssignmentIn(Strict):
    role: str = Field(pattern=NAME)
    username: str = Field(pattern=USERNAME)


class AttributesIn(Strict):
    desk: str | None = Field(default=None, max_length=32)
    region: str | None = Field(default=None, max_length=32)
    client_book: str | None = Field(default=None, max_length=32)


class TokenIn(Strict):
    username: str = Field(pattern=USERNAME)
    name: str = Field(min_length=1, max_length=64)
    days: int | None = Field(default=None, ge=1, le=365)


class FactorResetIn(Strict):
    factor: Literal["totp", "sms"]
    reason: str = Field(min_length=3, max_length=500)


class RevokeIn(Strict):
    reason: str = Field(min_length=3, max_length=64)


@router.get("/rights")
def rights(actor: ReadRoles) -> list[str]:
    return [right.value for right in Right]


@router.get("/roles")
def roles(actor: ReadRoles, db: SessionDep) -> list[dict[str, Any]]:
    return [view.__dict__ for view in access.list_roles(db)]


@router.post("/roles", status_code=201)
def create_role(body: RoleIn, actor: ChangeRoles, db: SessionDep) -> dict[str, str]:
    role = access.create_role(db, actor=actor, name=body.name, description=body.description)
    return {"id": role.id, "name": role.name}


@router.delete("/roles/{name}", status_code=204)
def delete_role(name: str, actor: ChangeRoles, db: SessionDep) -> None:
    access.delete_role(db, actor=actor, name=name)


@router.post("/roles/{name}/grants", status_code=201)
def add_grant(name: str, body: GrantIn, actor: ChangeRoles, db: SessionDep) -> dict[str, str]:
    grant = access.add_grant(
        db, actor=actor, role=name, right=body.right, conditions=body.conditions
    )
    return {"id": grant.id, "right": grant.right}


@router.delete("/grants/{grant_id}", status_code=204)
def remove_grant(grant_id: str, actor: ChangeRoles, db: SessionDep) -> None:
    access.remove_grant(db, actor=actor, grant_id=grant_id)


@router.post("/assignments", status_code=201)
def assign(body: AssignmentIn, actor: ChangeRoles, db: SessionDep) -> dict[str, str]:
    row = access.assign(db, actor=actor, role=body.role, username=body.username)
    return {"id": row.id}


@router.delete("/assignments/{role}/{username}", status_code=204)
def unassign(role: str, username: str, actor: ChangeRoles, db: SessionDep) -> None:
    access.unassign(db, actor=actor, role=role, username=username)


@router.put("/users/{username}/attributes")
def set_attributes(
    username: str, body: AttributesIn, actor: ChangeUsers, db: SessionDep
) -> dict[str, str]:
    user = access.set_attributes(db, actor=actor, username=username, attributes=body.model_dump())
    return user.attributes()


@router.post("/users/{username}/revoke-sessions")
def revoke_sessions(
    username: str, body: RevokeIn, actor: ChangeUsers, db: SessionDep, platform: PlatformDep
) -> dict[str, int]:
    user = access.user_named(db, username)
    count = sessions.revoke_all(db, user_id=user.id, reason=body.reason, now=platform.desk.clock())
    return {"revoked": count}


@router.get("/factor-resets")
def factor_resets(actor: ReadUsers, db: SessionDep, platform: PlatformDep) -> list[dict[str, Any]]:
    """Second factor resets waiting for a second administrator (`mine`: asked by the caller)."""
    now = platform.desk.clock()
    return [reset.__dict__ for reset in management.pending_resets(db, reader=actor, now=now)]


@router.post("/users/{username}/factor-resets", status_code=201)
def request_factor_reset(
    username: str, body: FactorResetIn, actor: ChangeUsers, db: SessionDep, platform: PlatformDep
) -> dict[str, Any]:
    """Nothing changes until another holder of user:manage approves."""
    row = management.request_reset(
        db,
        actor=actor,
        username=username,
        factor=body.factor,
        reason=body.reason,
        now=platform.desk.clock(),
    )
    return {"id": row.id, "state": row.state, "expires_at": row.expires_at}


@router.post("/factor-resets/{reset_id}/{decision}")
def decide_factor_reset(
    reset_id: str,
    decision: Literal["approve", "refuse"],
    actor: ChangeUsers,
    db: SessionDep,
    platform: PlatformDep,
) -> dict[str, str]:
    """Approve (the factor is removed, every session of the user ends) or refuse; never by the
    administrator who asked."""
    row = management.decide_reset(
        db,
        actor=actor,
        reset_id=reset_id,
        approve=decision == "approve",
        now=platform.desk.clock(),
    )
    return {"id": row.id, "state": row.state}


def _token_view(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "name": row.name,
        "created_by": row.created_by,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "last_used_at": row.last_used_at,
        "revoked_at": row.revoked_at,
    }


@router.get("/tokens")
def list_tokens(
    actor: ReadUsers, db: SessionDep, username: str | None = None
) -> list[dict[str, Any]]:
    user_id = access.user_named(db, username).id if username else None
    return [_token_view(row) for row in sessions.tokens(db, user_id=user_id)]


@router.post("/tokens", status_code=201)
def issue_token(
    body: TokenIn, actor: ChangeUsers, db: SessionDep, platform: PlatformDep
) -> dict[str, Any]:
    """The secret is in this answer only; the server keeps its hash."""
    user = access.user_named(db, body.username)
    row, secret = sessions.issue_token(
        db,
        user=user,
        name=body.name,
        by=actor.audit_name,
        policy=platform.session_policy,
        now=platform.desk.clock(),
        lifetime=dt.timedelta(days=body.days) if body.days else None,
    )
    return {**_token_view(row), "token": secret}


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, actor: ChangeUsers, db: SessionDep, platform: PlatformDep) -> None:
    sessions.revoke_token(db, token_id=token_id, by=actor.audit_name, now=platform.desk.clock())


@router.get("/access-log")
def access_log(
    *,
    actor: Annotated[Actor, Depends(require(Right.ACCESS_LOG_READ))],
    db: SessionDep,
    username: str | None = None,
    result: Literal["allowed", "denied"] | None = None,
    before: SeqQuery = None,
    limit: Annotated[int, Query(ge=1, le=accesslog.MAX_LIMIT)] = 100,
) -> list[dict[str, Any]]:
    """Authorisation decisions, newest first; `before` (a seq) pages back."""
    user_id = access.user_named(db, username).id if username else None
    return accesslog.decisions(db, user_id=user_id, result=result, before_seq=before, limit=limit)
