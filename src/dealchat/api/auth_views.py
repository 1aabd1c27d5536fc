"""`/api/v1/auth`: who am I, and step-up (a level-2 proof bound to one operation's content)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.api.deps import PlatformDep, SessionDep, commit_denial, signed_in, source_ip
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import passwords, sessions
from dealchat.identity import service as identity
from dealchat.identity.models import User
from dealchat.identity.session_models import ApiToken
from dealchat.identity.sessions import COOKIE

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Me(BaseModel):
    user_id: str
    username: str
    kind: str
    factors: list[str]
    rights: list[str]


@router.get("/whoami", response_model=Me)
def whoami(actor: Annotated[Actor, Depends(signed_in())]) -> Me:
    rights = sorted({grant.right.value for grant in actor.grants}) if actor.internal else []
    return Me(
        user_id=actor.user_id,
        username=actor.username,
        kind=actor.kind,
        factors=list(actor.factors),
        rights=rights,
    )


class StepUpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    otp: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")
    content_hash: str = Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")


class StepUpProofOut(BaseModel):
    proof: str
    header: str
    expires_in: int


@router.post("/stepup", response_model=StepUpProofOut)
def stepup(
    *,
    body: StepUpRequest,
    request: Request,
    response: Response,
    platform: PlatformDep,
    db: SessionDep,
    actor: Annotated[Actor, Depends(signed_in())],
) -> StepUpProofOut:
    """Password and a fresh authenticator code again: a single-use proof for `content_hash`.

    The login counts as fresh again (RFC 9470 max_age); a console session gets a new id.
    """
    now = platform.desk.clock()
    user = identity.authenticate(
        db,
        sealer=platform.desk.sealer,
        username=actor.username,
        password=body.password,
        otp=body.otp,
        now=now,
        channel="api",
        source_ip=source_ip(request),
        lockout=platform.desk.policy.lockout,
        purpose="stepup",
        directory=platform.desk.policy.directory,
    )
    if user is None or user.id != actor.user_id:
        context = access.AccessContext("api", source_ip(request), "POST /api/v1/auth/stepup")
        access.decide(db, actor=actor, right=None, context=context, denied_because="step-up failed")
        commit_denial(db)  # the failed attempt stays recorded; nothing else happened
        raise DealchatError(ErrorCode.LOGIN_FAILED, identity.LOGIN_FAILED, http_status=401)
    policy = platform.session_policy
    proof = sessions.grant_proof(
        db, user=user, content_hash=body.content_hash, policy=policy, now=now
    )
    _refresh_login(request, response, db, user_id=user.id, platform=platform)
    ttl = int(policy.stepup_ttl.total_seconds())
    return StepUpProofOut(proof=proof, header="DealChat-StepUp", expires_in=ttl)


def _refresh_login(
    request: Request, response: Response, db: SessionDep, *, user_id: str, platform: PlatformDep
) -> None:
    now = platform.desk.clock()
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = sessions.resolve_token(db, secret=header[7:].strip(), now=now)
        if isinstance(token, ApiToken):
            token.authenticated_at = now
        return
    cookie = request.cookies.get(COOKIE, "")
    row = sessions.resolve(db, token=cookie, policy=platform.session_policy, now=now)
    user = identity_user(db, user_id)
    if row is not None and user is not None:
        started = sessions.rotate(db, row=row, user=user, now=now, policy=platform.session_policy)
        set_session_cookie(response, started.token, platform)


def identity_user(db: SessionDep, user_id: str) -> User | None:
    return db.get(User, user_id)


def set_session_cookie(response: Response, token: str, platform: PlatformDep) -> None:
    """`__Host-` prefix: Secure, Path=/, no Domain; HttpOnly; SameSite=Strict."""
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(platform.session_policy.absolute.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )
