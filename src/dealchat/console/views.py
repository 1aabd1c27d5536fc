"""The console shell: log in (username, password, authenticator code), home, step-up, log out."""

from __future__ import annotations

import secrets
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from dealchat.access import accesslog
from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import (
    Platform,
    PlatformDep,
    SeqQuery,
    SessionDep,
    public,
    require,
    require_form,
    signed_in,
    source_ip,
)
from dealchat.console.pages import (
    LOGIN_COOKIE,
    STATIC,
    csrf_for,
    render,
    return_to,
    set_cookie,
    set_session_cookie,
)
from dealchat.identity import login as authn
from dealchat.identity import passwords, saml, saml_views, sessions
from dealchat.identity import service as identity

router = APIRouter(prefix="/console", include_in_schema=False)
OPEN = [Depends(public("the console's login page, its stylesheet and script"))]
Password = Annotated[str, Form(max_length=passwords.MAX_LENGTH)]  # every form: the rules' max
Otp = Annotated[str, Form(max_length=6)]


@router.get("/static/console.css", dependencies=OPEN)
def stylesheet() -> FileResponse:
    return FileResponse(STATIC / "console.css", media_type="text/css")


@router.get("/static/console.js", dependencies=OPEN)
def script() -> FileResponse:
    return FileResponse(STATIC / "console.js", media_type="text/javascript")


@router.get("/login", dependencies=OPEN)
def login_form(platform: PlatformDep, next: str = "") -> Response:  # noqa: A002 - the query's name
    """A fresh pre-login secret in a cookie; the form carries the CSRF token derived from it, and
    the page to return to (`next`, a console path) once logged in."""
    secret = secrets.token_urlsafe(32)
    response = _login_page(
        sessions.csrf_token(secret), notice="", platform=platform, next_page=return_to(next)
    )
    set_cookie(response, LOGIN_COOKIE, secret, max_age=900)
    return response


def _login_page(
    csrf: str, *, notice: str, platform: Platform, status: int = 200, next_page: str = ""
) -> Response:
    return render(
        "login.html",
        actor=None,
        csrf=csrf,
        status=status,
        heading="Log in",
        notice=notice,
        action="/console/login",
        button="Log in",
        username=None,
        next_page=next_page,
        saml_login=saml.LOGIN_PATH if platform.settings.saml.enabled else None,
    )


@router.post("/login", dependencies=OPEN)
def login(
    *,
    request: Request,
    platform: PlatformDep,
    db: SessionDep,
    username: Annotated[str, Form(max_length=64)],
    password: Password,
    otp: Otp = "",  # empty: only an internal user on a trusted network gets in without it
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    next_page: Annotated[str, Form(alias="next", max_length=500)] = "",
) -> Response:
    back = return_to(next_page)
    pre = request.cookies.get(LOGIN_COOKIE, "")
    if not pre or not sessions.csrf_ok(pre, csrf_token):
        return _login_page(
            sessions.csrf_token(pre),
            notice="The form expired. Try again.",
            platform=platform,
            status=403,
            next_page=back,
        )
    now = platform.desk.clock()
    attempt = authn.Attempt(username, password, otp, "console", source_ip(request))
    outcome = authn.decide(
        db,
        sealer=platform.desk.sealer,
        attempt=attempt,
        policy=platform.desk.policy.lockout,
        now=now,
        directory=platform.desk.policy.directory,
    )
    user = outcome.user
    if user is None or user.kind != "internal":
        return _login_page(
            sessions.csrf_token(pre),
            notice=identity.LOGIN_FAILED,
            platform=platform,
            status=401,
            next_page=back,
        )
    _end_presented_session(request, platform, db)
    started = sessions.start(
        db,
        user=user,
        factors=outcome.factors,  # password+totp, or password+network from a trusted range
        source_ip=source_ip(request),
        channel="console",
        policy=platform.session_policy,
        now=now,
    )
    response = RedirectResponse(back or "/console/", status_code=303)
    set_session_cookie(response, started.token, max_age=_max_age(platform))
    response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


def _max_age(platform: Platform) -> int:
    return int(platform.session_policy.absolute.total_seconds())


def _end_presented_session(request: Request, platform: Platform, db: SessionDep) -> None:
    """A login always makes a new session: one the browser still presents is ended first."""
    old = request.cookies.get(sessions.COOKIE)
    if not old:
        return
    row = sessions.resolve(db, token=old, policy=platform.session_policy, now=platform.desk.clock())
    if row is not None:
        sessions.end(db, row, now=platform.desk.clock(), reason="replaced by a new login")


@router.get("/")
def home(
    request: Request, platform: PlatformDep, actor: Annotated[Actor, Depends(signed_in())]
) -> Response:
    rights = sorted({grant.right.value for grant in actor.grants}) if actor.internal else []
    return render("home.html", actor=actor, csrf=csrf_for(request), rights=rights, fresh="")


@router.post("/logout")
def logout(
    request: Request,
    platform: PlatformDep,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require_form(None))],
) -> Response:
    row = sessions.resolve(
        db,
        token=request.cookies.get(sessions.COOKIE, ""),
        policy=platform.session_policy,
        now=platform.desk.clock(),
    )
    single_logout = None
    if row is not None:
        sessions.end(db, row, now=platform.desk.clock())
        single_logout = saml_views.logout_url(request, platform, db, row)
    response: Response = RedirectResponse("/console/login", status_code=303)
    if single_logout is not None:  # a SAML session: on to the IdP's single logout
        response = saml_views.onward(single_logout, "Logged out here; now at your bank's sign-in.")
    response.delete_cookie(sessions.COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.get("/stepup")
def stepup_form(request: Request, actor: Annotated[Actor, Depends(signed_in())]) -> Response:
    return _stepup_page(request, actor, notice="")


def _stepup_page(request: Request, actor: Actor, *, notice: str, status: int = 200) -> Response:
    return render(
        "login.html",
        actor=actor,
        csrf=csrf_for(request),
        status=status,
        heading="Confirm it is you",
        notice=notice,
        action="/console/stepup",
        button="Confirm",
        username=actor.username,
    )


@router.post("/stepup")
def stepup(
    *,
    request: Request,
    platform: PlatformDep,
    db: SessionDep,
    password: Password,
    otp: Otp,
    actor: Annotated[Actor, Depends(require_form(None))],
) -> Response:
    """Both factors again: the session gets a new id and counts as freshly authenticated."""
    now = platform.desk.clock()
    user = identity.authenticate(
        db,
        sealer=platform.desk.sealer,
        username=actor.username,
        password=password,
        otp=otp,
        now=now,
        channel="console",
        source_ip=source_ip(request),
        lockout=platform.desk.policy.lockout,
        purpose="stepup",
        directory=platform.desk.policy.directory,
    )
    row = sessions.resolve(
        db, token=request.cookies.get(sessions.COOKIE, ""), policy=platform.session_policy, now=now
    )
    if user is None or row is None or user.id != actor.user_id:
        return _stepup_page(request, actor, notice=identity.LOGIN_FAILED, status=401)
    rotated = sessions.rotate(
        db,
        row=row,
        user=user,
        now=now,
        policy=platform.session_policy,
        factors=("password", "totp"),
    )
    response = RedirectResponse("/console/", status_code=303)
    set_session_cookie(response, rotated.token, max_age=_max_age(platform))
    return response


@router.get("/access-log")
def access_log_page(
    request: Request,
    db: SessionDep,
    actor: Annotated[Actor, Depends(require(Right.ACCESS_LOG_READ))],
    result: Literal["allowed", "denied"] | None = None,
    before: SeqQuery = None,
) -> Response:
    found = accesslog.decisions(db, result=result, before_seq=before, limit=100)
    return render(
        "access_log.html", actor=actor, csrf=csrf_for(request), decisions=found, result=result
    )
