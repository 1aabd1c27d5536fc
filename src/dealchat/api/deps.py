"""What routers take from the app: the platform, a request-scoped database session, and
`require(...)`, the one way an HTTP route says who may call it.

Declaring a route's access is one line, and every route must declare it (tests/api/test_matrix.py
enumerates `app.routes` and fails on an undeclared one):

    actor: Annotated[Actor, Depends(require(Right.ORDER_APPROVE, level=2, max_age=300))]
    actor: Annotated[Actor, Depends(signed_in())]         # any logged-in user, no particular right
    @router.get("/x", dependencies=[Depends(public("why it is open"))])   # no login at all

Behind `require`, do the route's work in `db: SessionDep` (the same transaction as the access-log
entry of the decision; it commits when the route returns, rolls back if it raises). Never open a
second `unit_of_work` in such a route: on SQLite the two transactions would wait on each other.
Level 2 operations call `spend_proof(request, db, actor, content_hash)` with the hash of what
they approve; the caller got the proof from `POST /api/v1/auth/stepup`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi import Path as FastApiPath
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dealchat.access import service as access
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.access.throttle import RateLimits, SourceThrottle
from dealchat.conversations.context import Desk
from dealchat.documents.interfaces import VirusScanner
from dealchat.errors import DealchatError, ErrorCode
from dealchat.identity import sessions
from dealchat.identity.interfaces import SmsSender
from dealchat.identity.models import User
from dealchat.identity.session_models import AuthSession
from dealchat.identity.sessions import SessionPolicy
from dealchat.identity.sms import ConsoleSms
from dealchat.live.hub import Hub
from dealchat.settings import Settings

if TYPE_CHECKING:  # the QuickFIX binding is needed only when orders go over FIX
    from dealchat.execution.fix.runtime import FixVenue

ACCESS_ATTRIBUTE = "__dealchat_access__"
PROOF_HEADER = "DealChat-StepUp"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def acr(level: int) -> str:
    """The authentication context class of a level, for RFC 9470 `acr_values`."""
    return f"urn:dealchat:level:{level}"


@dataclass(frozen=True)
class Platform:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    desk: Desk
    scanner: VirusScanner  # documents: every upload is scanned before it is stored
    # Requests with no valid session or token, per source (access/throttle.py).
    throttle: SourceThrottle = field(default_factory=SourceThrottle)
    # The rate limits routes declare (api/ratelimits.py), per process.
    limits: RateLimits = field(default_factory=RateLimits)
    # The FIX sessions to liquidity providers (settings.execution.venue == "fix"); started by
    # `dealchat serve`, not by building the platform.
    venue: FixVenue | None = None
    # Live updates to open pages (live/): woken after each commit that changes a conversation.
    hub: Hub = field(default_factory=Hub)
    # Where SMS codes go (identity/interfaces.SmsSender): the demo's terminal unless replaced.
    sms: SmsSender = field(default_factory=ConsoleSms)

    @property
    def session_policy(self) -> SessionPolicy:
        s = self.settings.sessions
        return sessions.policy_from(
            idle_minutes=s.idle_minutes,
            absolute_hours=s.absolute_hours,
            token_days=s.token_days,
            token_max_days=s.token_max_days,
            stepup_seconds=self.settings.auth.stepup_ttl_seconds,
        )


async def get_platform(request: Request) -> Platform:
    """Async, like every dependency that only reads the request: a sync one costs a trip to the
    server's thread pool and back (about 60 us of CPU) for nothing."""
    return platform_of(request)


def platform_of(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_db(platform: PlatformDep) -> Iterator[Session]:
    """One transaction per request: commits after the route, rolls back if it raises; the
    authorisation decisions taken in a rolled-back transaction are then recorded on their own."""
    session = platform.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        if access.rollback_keeping_decisions(session):
            session.commit()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_db, scope="function")]


# Integers a route takes from a path or query: what the database's 64-bit columns hold, so a
# number past that is a 422 naming the parameter, never an overflow in the driver (a 500).
INT64_MAX = 2**63 - 1
SeqQuery = Annotated[int | None, Query(ge=0, le=INT64_MAX)]
VersionPath = Annotated[int, FastApiPath(ge=1, le=INT64_MAX)]


@dataclass(frozen=True)
class Access:
    """What a route declares: a right (None: any signed-in user), a level and freshness, or
    `public` with the reason it needs no login."""

    right: Right | None
    level: int
    max_age: int | None = None
    public: str | None = None
    # The attributes of what the request acts on, for grants with conditions (desk, region, ...):
    # `resource(request, db) -> {"desk": "FX-LDN"}`. None: decided without a resource, so only an
    # unconditioned grant of the right passes.
    resource: Callable[[Request, Session], Mapping[str, str]] | None = None
    # A list the route filters itself to what the actor may see (the desk's conversations):
    # allowed to anyone holding the right at all, conditioned or not (access.policy.can_list).
    listing: bool = False


# Routes that are not FastAPI path operations (so cannot carry a dependency), and why each is open.
PUBLIC_PATHS: dict[str, str] = {"/openapi.json": "the API's description, no data"}


def declared_access(call: Callable[..., Any]) -> Access | None:
    found: Access | None = getattr(call, ACCESS_ATTRIBUTE, None)
    return found


@dataclass(frozen=True)
class DeclaredRoute:
    path: str
    methods: frozenset[str]
    access: Access | None
    operation: bool  # a FastAPI path operation (can declare); else a plain Starlette route


def declared_routes(routes: list[Any]) -> list[DeclaredRoute]:
    """Every route of an app (included routers flattened) with the access it declared."""
    found = []
    for context in iter_route_contexts(routes):
        operation = isinstance(context.original_route, APIRoute)
        dependant = getattr(context, "dependant", None) if operation else None
        found.append(
            DeclaredRoute(
                path=str(context.path),
                methods=frozenset(context.methods or ()),
                access=route_access(dependant) if dependant is not None else None,
                operation=operation,
            )
        )
    return found


def route_access(dependant: Any) -> Access | None:
    """The access a route declared: the first `require`/`signed_in`/`public` among its dependencies
    (a FastAPI `Dependant`, searched depth first)."""
    for dependency in dependant.dependencies:
        found = declared_access(dependency.call) if dependency.call else None
        if found is None:
            found = route_access(dependency)
        if found is not None:
            return found
    return None


def public(reason: str) -> Callable[[], Awaitable[None]]:
    """A route anyone may call (the chat endpoint, the login page, health): say why."""

    async def open_route() -> None:  # async: nothing to wait for, no trip to the thread pool
        return None

    setattr(open_route, ACCESS_ATTRIBUTE, Access(None, 0, public=reason))
    return open_route


def require(
    right: Right,
    *,
    level: int = 1,
    max_age: int | None = None,
    resource: Callable[[Request, Session], Mapping[str, str]] | None = None,
    listing: bool = False,
) -> Callable[..., Actor]:
    """A dependency yielding the Actor when it holds `right` with a strong and fresh enough login.

    401 without a valid session or token; 403 without the right (deny by default); 401 with
    `WWW-Authenticate: Bearer error="insufficient_user_authentication"` (RFC 9470) when the login is
    older than `max_age` seconds or a level-2 proof is missing. Every decision is access-logged.
    """
    declared = Access(right, _level(level), max_age, resource=resource, listing=listing)
    return _dependency(declared, form=False)


def require_form(
    right: Right | None,
    *,
    level: int = 1,
    max_age: int | None = None,
    resource: Callable[[Request, Session], Mapping[str, str]] | None = None,
) -> Callable[..., Actor]:
    """`require` for server-rendered forms: the CSRF token comes in the `csrf_token` field."""
    return _dependency(Access(right, _level(level), max_age, resource=resource), form=True)


def signed_in(*, level: int = 1, max_age: int | None = None) -> Callable[..., Actor]:
    """Any signed-in user (its own profile, logout, step-up): authenticated, no particular right."""
    return _dependency(Access(None, _level(level), max_age), form=False)


def _level(level: int) -> int:
    if level not in (1, 2):
        raise ValueError("require(level=...) is 1 or 2; a route open to all uses public()")
    return level


def _dependency(declared: Access, *, form: bool) -> Callable[..., Actor]:
    if form:

        def from_form(
            request: Request,
            platform: PlatformDep,
            db: SessionDep,
            csrf_token: Annotated[str | None, Form(max_length=128)] = None,
        ) -> Actor:
            return authorise(request, platform, db, declared, csrf=csrf_token)

        dependency: Callable[..., Actor] = from_form
    else:

        def from_header(request: Request, platform: PlatformDep, db: SessionDep) -> Actor:
            return authorise(request, platform, db, declared, csrf=request.headers.get(CSRF_HEADER))

        dependency = from_header
    setattr(dependency, ACCESS_ATTRIBUTE, declared)
    return dependency


def source_ip(request: Request) -> str | None:
    """The client address: set by the trusted-proxy middleware when there is one, else the peer."""
    given: str | None = getattr(request.state, "client_ip", None)
    if given:
        return given
    return request.client.host if request.client else None


@dataclass(frozen=True)
class Login:
    """Who is calling and how strongly: from a console cookie or an API bearer token."""

    user: User
    channel: str
    factors: tuple[str, ...]
    authenticated_at: dt.datetime
    cookie_token: str | None = None
    session_row: AuthSession | None = None


def current_login(request: Request, platform: Platform, db: Session) -> Login | None:
    now = platform.desk.clock()
    header = request.headers.get("authorization", "")
    if header[:7].lower() == "bearer ":
        token = sessions.resolve_token(db, secret=header[7:].strip(), now=now)
        if token is None:
            return None
        user = db.get(User, token.user_id)
        return Login(user, "api", ("token",), token.authenticated_at) if user else None
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    row = sessions.resolve(db, token=cookie, policy=platform.session_policy, now=now)
    if row is not None and row.channel == sessions.PENDING_CHANNEL:
        return None  # a federated login still waiting for its second factor is no login
    user = db.get(User, row.user_id) if row else None
    if row is None or user is None:
        return None
    factors = tuple(f for f in row.factors.split(",") if f)
    return Login(user, row.channel, factors, row.authenticated_at, cookie, row)


def authorise(
    request: Request, platform: Platform, db: Session, declared: Access, *, csrf: str | None
) -> Actor:
    context = access.AccessContext(
        "api" if "authorization" in request.headers else "console",
        source_ip(request),
        f"{request.method} {request.url.path}",
    )
    login = current_login(request, platform, db)
    if login is None:
        raise _anonymous(request, platform, db, declared, context)
    actor = access.actor_for(db, login.user, factors=login.factors)
    context = access.AccessContext(login.channel, context.source_ip, context.operation)
    if login.user.kind != "internal" and is_console(request.url.path):
        _deny(db, actor, declared, context, STAFF_ONLY)
        raise DealchatError(ErrorCode.FORBIDDEN, STAFF_ONLY, http_status=403)
    if (
        login.cookie_token
        and request.method in UNSAFE
        and not sessions.csrf_ok(login.cookie_token, csrf)
    ):
        _deny(db, actor, declared, context, "CSRF token missing or wrong")
        raise DealchatError(ErrorCode.CSRF_FAILED, "CSRF token missing or wrong", http_status=403)
    attributes = declared.resource(request, db) if declared.resource is not None else None
    decision = access.decide(
        db,
        actor=actor,
        right=declared.right,
        context=context,
        resource=attributes,
        listing=declared.listing,
    )
    if not decision:
        commit_denial(db)
        raise DealchatError(
            ErrorCode.FORBIDDEN,
            "Not allowed",
            http_status=403,
            data={"right": declared.right.value if declared.right else None},
        )
    weak = _too_weak(request, platform, db, declared, login)
    if weak is not None:
        _deny(db, actor, declared, context, weak)
        raise _challenge(declared, "insufficient_user_authentication", weak)
    request.state.actor = actor
    return actor


STAFF_ONLY = "the console is for bank staff only"
CONSOLE_PREFIX = "/console"


def is_console(path: str) -> bool:
    """A console page: staff only, whatever right a route declares and however the caller
    signed in (a client's API token is refused there; clients never get a console session)."""
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def _anonymous(
    request: Request,
    platform: Platform,
    db: Session,
    declared: Access,
    context: access.AccessContext,
) -> DealchatError:
    """Denied and recorded; past the source's limit (access/throttle.py) a 429, recorded once."""
    verdict = platform.throttle.check(context.source_ip, platform.desk.clock())
    if verdict.allowed:
        _deny(db, None, declared, context, "no valid session or token")
        return _challenge(declared, "invalid_token" if _presented(request) else None)
    if verdict.first_refusal:
        limit = platform.throttle.limit
        _deny(db, None, declared, context, f"throttled: over {limit} unauthenticated requests")
    return DealchatError(
        ErrorCode.RATE_LIMITED,
        "Too many requests",
        http_status=429,
        headers={"Retry-After": str(verdict.retry_after)},
    )


def _presented(request: Request) -> bool:
    return "authorization" in request.headers or sessions.COOKIE in request.cookies


def _too_weak(
    request: Request, platform: Platform, db: Session, declared: Access, login: Login
) -> str | None:
    now = platform.desk.clock()
    if declared.max_age is not None:
        age = (now - login.authenticated_at).total_seconds()
        if age > declared.max_age:
            return f"authentication is {int(age)} s old; at most {declared.max_age} s allowed"
    if declared.level >= 2:
        proof = request.headers.get(PROOF_HEADER)
        if not proof or not sessions.live_proof(db, secret=proof, user_id=login.user.id, now=now):
            return "a level-2 proof (password and authenticator code) for this operation is needed"
    return None


def _deny(
    db: Session, actor: Actor | None, declared: Access, context: access.AccessContext, why: str
) -> None:
    access.decide(db, actor=actor, right=declared.right, context=context, denied_because=why)
    commit_denial(db)


def commit_denial(db: Session) -> None:
    """A denial is committed now, with nothing but the login bookkeeping: the route never runs."""
    db.info.pop(access.DECISIONS_KEY, None)
    db.commit()


def _challenge(declared: Access, error: str | None, description: str = "") -> DealchatError:
    parts = ['Bearer realm="dealchat"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    if error == "insufficient_user_authentication":
        parts.append(f'acr_values="{acr(declared.level)}"')
        if declared.max_age is not None:
            parts.append(f"max_age={declared.max_age}")
    code = (
        ErrorCode.INSUFFICIENT_AUTHENTICATION
        if error == "insufficient_user_authentication"
        else ErrorCode.UNAUTHORIZED
    )
    return DealchatError(
        code,
        description or "Authentication required",
        http_status=401,
        headers={"WWW-Authenticate": ", ".join(parts)},
    )


def spend_proof(request: Request, db: Session, actor: Actor, content_hash: str) -> None:
    """In a level-2 route: spend the caller's proof for exactly this content, or 401 (RFC 9470)."""
    platform = platform_of(request)
    proof = request.headers.get(PROOF_HEADER, "")
    ok = bool(proof) and sessions.spend_proof(
        db,
        secret=proof,
        user_id=actor.user_id,
        content_hash=content_hash,
        now=platform.desk.clock(),
    )
    if not ok:
        # Raised inside the route: get_db rolls its work back and records this denial on its own.
        declared = Access(None, 2)
        context = access.AccessContext("api", source_ip(request), f"{request.method} proof")
        why = "the level-2 proof does not approve this content, or was used"
        access.decide(db, actor=actor, right=None, context=context, denied_because=why)
        raise _challenge(declared, "insufficient_user_authentication", why)
