"""How every federated console login ends (OIDC and SAML alike): the access-log entry, then an
internal console session; a refusal is audited with its rule and answered with one page that never
says which check failed.

Strength: `DEALCHAT_AUTH__FEDERATED_TWO_FACTOR` says, per role, which `acr`/`amr` (OIDC) or
AuthnContextClassRef (SAML) counts as two factors. A login that meets every role the user holds
gets its console session at once (factors: method, `idp-mfa`); one below it gets a session that is
no login yet (channel `console-2fa`: `api.deps.current_login` refuses it for every route) and the
page `/auth/second-factor`, where our own authenticator code, with our throttles and lockout,
turns it into a console session (factors: method, `totp`). No code enrolled: no login.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealchat.access.models import Role, RoleAssignment
from dealchat.api.auth_views import set_session_cookie
from dealchat.api.deps import Platform, PlatformDep, public, source_ip
from dealchat.db.session import unit_of_work
from dealchat.identity import federation, sessions
from dealchat.identity import login as authn
from dealchat.identity.models import SamlSession, User
from dealchat.identity.session_models import AuthSession
from dealchat.identity.views import page

LOGIN_FAILED = "Login through your bank account failed. Try again or ask the service desk."
AFTER_LOGIN = "/console/"
SECOND_FACTOR_PATH = "/auth/second-factor"
PENDING_TTL = dt.timedelta(minutes=10)  # a federated login waits this long for its second factor
router = APIRouter(
    dependencies=[Depends(public("a federated login's second factor, before it is a login"))]
)
_FORM = """<h2>One more step</h2>
<p>Your bank sign-in was one factor for your role here: enter the code from your authenticator.</p>
{notice}<form method="post" action="{action}" autocomplete="off">
<input type="hidden" name="csrf_token" value="{csrf}">
<p><label>Authenticator code<br><input name="otp" inputmode="numeric" pattern="[0-9]{{6}}"
 maxlength="6" required autocomplete="one-time-code"></label></p>
<p><button type="submit">Continue</button></p></form>"""


# The provider's answer comes cross-site (a POST for SAML, a redirect for OIDC): a SameSite=Strict
# cookie set on that answer is not sent on a redirect chain that began on another site, so the
# browser is moved on by a page of ours instead, a navigation that starts on our own site.
_ONWARD = (
    '<meta http-equiv="refresh" content="0;url={url}"><p>{text} <a href="{url}">Continue</a>.</p>'
)


def onward(url: str, text: str) -> HTMLResponse:
    """A page of ours that sends the browser on to `url` at once (and links it)."""
    return HTMLResponse(page(_ONWARD.format(url=html.escape(url), text=html.escape(text))).body)


def refused(
    session: Session, *, rule: str, method: str, source_ip: str | None, now: dt.datetime
) -> HTMLResponse:
    """Audit the refusal with its rule; the browser gets the same page whatever failed."""
    federation.audit_decision(
        session, user=None, rule=rule, source_ip=source_ip, now=now, method=method
    )
    return HTMLResponse(page(f"<p>{html.escape(LOGIN_FAILED)}</p>", 401).body, 401)


def two_factors(required: dict[str, list[str]], roles: Iterable[str], said: set[str]) -> bool:
    """Does what the provider said (`acr`, `amr` values, class refs) count as two factors for
    every one of `roles` (a role not named, or no role at all, reads "*")?"""
    for role in list(roles) or ["*"]:
        accepted = required.get(role, required.get("*"))
        if accepted is None or not ("*" in accepted or set(accepted) & said):
            return False
    return True


def _said(claims: dict[str, Any]) -> set[str]:
    amr = claims.get("amr") or []
    found = {str(value) for value in (amr if isinstance(amr, list) else [amr])}
    if claims.get("acr"):
        found.add(str(claims["acr"]))
    return found


def _roles(session: Session, user: User) -> list[str]:
    return list(
        session.scalars(
            select(Role.name)
            .join(RoleAssignment, RoleAssignment.role_id == Role.id)
            .where(RoleAssignment.user_id == user.id)
        )
    )


def sign_in(
    session: Session,
    platform: Platform,
    *,
    user: User,
    method: str,
    rule: str,
    claims: dict[str, Any],
    source_ip: str | None,
    now: dt.datetime,
) -> sessions.Started:
    """The success entry and a new session: a console session when the provider's login counts
    as two factors for the user's roles, else one waiting for our second factor (`pending`)."""
    strong = two_factors(
        platform.settings.auth.federated_two_factor, _roles(session, user), _said(claims)
    )
    federation.audit_decision(
        session,
        user=user,
        rule=rule if strong else f"{rule}:needs-second-factor",
        source_ip=source_ip,
        now=now,
        claims=claims,
        method=method,
    )
    return sessions.start(
        session,
        user=user,
        factors=(method, "idp-mfa") if strong else (method,),
        source_ip=source_ip,
        channel="console" if strong else sessions.PENDING_CHANNEL,
        policy=platform.session_policy,
        now=now,
    )


def pending(started: sessions.Started) -> bool:
    return started.row.channel == sessions.PENDING_CHANNEL


def next_page(started: sessions.Started) -> str:
    return SECOND_FACTOR_PATH if pending(started) else AFTER_LOGIN


def _pending_row(request: Request, platform: Platform, session: Session) -> AuthSession | None:
    cookie = request.cookies.get(sessions.COOKIE, "")
    now = platform.desk.clock()
    row = sessions.resolve(session, token=cookie, policy=platform.session_policy, now=now)
    if row is None or row.channel != sessions.PENDING_CHANNEL or now - row.created_at > PENDING_TTL:
        return None
    return row


def _form(request: Request, notice: str = "", status: int = 200) -> HTMLResponse:
    shown = f'<p role="alert"><strong>{html.escape(notice)}</strong></p>' if notice else ""
    csrf = sessions.csrf_token(request.cookies.get(sessions.COOKIE, ""))
    body = _FORM.format(notice=shown, action=SECOND_FACTOR_PATH, csrf=html.escape(csrf))
    return HTMLResponse(page(body).body, status)


@router.get(SECOND_FACTOR_PATH, include_in_schema=False)
def second_factor_form(request: Request, platform: PlatformDep) -> Response:
    with unit_of_work(platform.sessions) as session:
        if _pending_row(request, platform, session) is None:
            return RedirectResponse("/console/login", status_code=303)
    return _form(request)


@router.post(SECOND_FACTOR_PATH, include_in_schema=False)
def second_factor(
    request: Request,
    platform: PlatformDep,
    otp: Annotated[str, Form(max_length=6)] = "",
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    now, address = platform.desk.clock(), source_ip(request)
    cookie = request.cookies.get(sessions.COOKIE, "")
    with unit_of_work(platform.sessions) as session:
        row = _pending_row(request, platform, session)
        if row is None:
            return RedirectResponse("/console/login", status_code=303)
        if not sessions.csrf_ok(cookie, csrf_token):
            return _form(request, "The form expired. Try again.", 403)
        method = row.factors.split(",")[0]
        outcome = authn.federated_second_factor(
            session,
            sealer=platform.desk.sealer,
            user_id=row.user_id,
            otp=otp,
            method=method,
            source_ip=address,
            policy=platform.desk.policy.lockout,
            now=now,
        )
        if outcome.user is None:
            return _form(request, LOGIN_FAILED, 401)
        started = sessions.start(
            session,
            user=outcome.user,
            factors=outcome.factors,
            source_ip=address,
            channel="console",
            policy=platform.session_policy,
            now=now,
            replaces=row,
        )
        session.execute(  # single logout follows the session to its new id
            update(SamlSession)
            .where(SamlSession.auth_session_id == row.id)
            .values(auth_session_id=started.row.id)
            .execution_options(synchronize_session=False)
        )
    response = RedirectResponse(AFTER_LOGIN, status_code=303)
    set_session_cookie(response, started.token, platform)
    return response
