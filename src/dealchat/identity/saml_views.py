"""Console login through the bank's SAML 2.0 IdP: `/auth/saml/login` sends a signed AuthnRequest
(HTTP-Redirect), `/auth/saml/acs` takes the IdP's Response (HTTP-POST) and ends in the same
internal console session an OIDC login does, `/auth/saml/slo` is single logout in both
directions, `/auth/saml/metadata` is our metadata (its URL is our entity id)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.api.auth_views import set_session_cookie
from dealchat.api.deps import Platform, PlatformDep, public, source_ip
from dealchat.api.limits import body_limit
from dealchat.db.session import unit_of_work
from dealchat.identity import federated_login, federation, saml, sessions
from dealchat.identity.models import SamlSession
from dealchat.identity.session_models import AuthSession
from dealchat.identity.views import page

router = APIRouter(
    dependencies=[Depends(public("login through the bank's SAML identity provider"))]
)
NOT_CONFIGURED = "<p>Login through the bank's identity provider is not configured.</p>"
# A Response with one signed assertion is a few kB; base64 and a long attribute list stay far below.
MAX_MESSAGE = 200_000


def provider(request: Request, platform: Platform) -> saml.ServiceProvider | None:
    """The SP, built once per app from settings; None when SAML is off."""
    settings = platform.settings.saml
    if not settings.enabled:
        return None
    sp: saml.ServiceProvider | None = getattr(request.app.state, "saml_sp", None)
    if sp is None:
        sp = saml.ServiceProvider(
            settings, public_url=platform.settings.public_url, keys_dir=platform.settings.keys_dir
        )
        request.app.state.saml_sp = sp
    return sp


@router.get(saml.METADATA_PATH, include_in_schema=False)
def metadata(request: Request, platform: PlatformDep) -> Response:
    sp = provider(request, platform)
    if sp is None:
        return page(NOT_CONFIGURED, 404)
    return Response(sp.metadata_xml(), media_type="application/samlmetadata+xml")


@router.get(saml.LOGIN_PATH, include_in_schema=False)
def saml_login(request: Request, platform: PlatformDep) -> Response:
    sp = provider(request, platform)
    if sp is None:
        return page(NOT_CONFIGURED, 404)
    with unit_of_work(platform.sessions) as session:
        url = saml.begin(session, sp=sp, now=platform.desk.clock())
    return RedirectResponse(url, status_code=303)


@router.post(saml.ACS_PATH, include_in_schema=False)
@body_limit(2 * MAX_MESSAGE)
def saml_acs(
    request: Request,
    platform: PlatformDep,
    saml_response: Annotated[str, Form(alias="SAMLResponse", max_length=MAX_MESSAGE)] = "",
    relay_state: Annotated[str, Form(alias="RelayState", max_length=200)] = "",
) -> Response:
    sp = provider(request, platform)
    if sp is None:
        return page(NOT_CONFIGURED, 404)
    now, address = platform.desk.clock(), source_ip(request)
    with unit_of_work(platform.sessions) as session:
        try:
            if not (saml_response and relay_state):
                raise federation.FederationError("saml:missing-response-or-relay-state")
            asserted = saml.complete(
                session, sp=sp, response=saml_response, relay_state=relay_state, now=now
            )
        except federation.FederationError as failed:
            return federated_login.refused(
                session, rule=failed.rule, method="saml", source_ip=address, now=now
            )
        started = federated_login.sign_in(
            session,
            platform,
            user=asserted.user,
            method="saml",
            rule=f"saml:{asserted.idp}",
            claims={"acr": asserted.authn_context},
            source_ip=address,
            now=now,
        )
        saml.remember_session(
            session,
            asserted=asserted,
            auth_session_id=started.row.id,
            sealed_name_id=platform.desk.sealer.seal(
                asserted.name_id, context=f"saml-session:{started.row.id}"
            ),
            expires_at=started.row.expires_at,
        )
    response = federated_login.onward(federated_login.next_page(started), "Signed in at your bank.")
    set_session_cookie(response, started.token, platform)
    return response


@router.get(saml.SLO_PATH, include_in_schema=False)
def saml_slo(  # noqa: PLR0917 - FastAPI injects these by name
    request: Request,
    platform: PlatformDep,
    saml_request: Annotated[str, Query(alias="SAMLRequest", max_length=MAX_MESSAGE)] = "",
    saml_response: Annotated[str, Query(alias="SAMLResponse", max_length=MAX_MESSAGE)] = "",
    relay_state: Annotated[str, Query(alias="RelayState", max_length=200)] = "",
    sigalg: Annotated[str, Query(alias="SigAlg", max_length=200)] = "",
    signature: Annotated[str, Query(alias="Signature", max_length=2000)] = "",
) -> Response:
    """The IdP's LogoutRequest (end that person's SAML sessions here, answer it) or its
    LogoutResponse to ours (the local session was ended before we sent it)."""
    sp = provider(request, platform)
    if sp is None:
        return page(NOT_CONFIGURED, 404)
    now = platform.desk.clock()
    if saml_response:
        ok = saml.logout_answered(sp, response=saml_response)
        notice = "You are logged out." if ok else "You are logged out here."
        return page(f'<p>{notice} <a href="/console/login">Log in again</a>.</p>')
    with unit_of_work(platform.sessions) as session:
        try:
            logout = saml.idp_logout(
                sp,
                request=saml_request,
                relay_state=relay_state or None,
                sigalg=sigalg or None,
                signature=signature or None,
            )
        except federation.FederationError as failed:
            federation.audit_decision(
                session,
                user=None,
                rule=failed.rule,
                source_ip=source_ip(request),
                now=now,
                method="saml-logout",
            )
            return page("<p>The logout request was not accepted.</p>", 400)
        _end_idp_sessions(session, subject_hash=logout.subject_hash, now=now)
    return RedirectResponse(logout.answer_url, status_code=303)


def _end_idp_sessions(session: Session, *, subject_hash: str, now: dt.datetime) -> int:
    linked = session.scalars(
        select(SamlSession.auth_session_id).where(SamlSession.subject_hash == subject_hash)
    ).all()
    rows = session.scalars(
        select(AuthSession).where(AuthSession.id.in_(linked), AuthSession.revoked_at.is_(None))
    ).all()
    for row in rows:
        sessions.end(session, row, now=now, reason="saml single logout")
    return len(rows)


def onward(url: str, text: str) -> HTMLResponse:
    """Console logout of a SAML session goes on to the IdP: the CSP's `form-action 'self'` stops
    a logout form whose answer redirects there; a page of ours that moves on is a navigation."""
    return federated_login.onward(url, text)


def logout_url(
    request: Request, platform: Platform, session: Session, row: AuthSession
) -> str | None:
    """Where console logout sends the browser for a session that came from SAML: a signed
    LogoutRequest to the IdP (it ends the IdP session and answers at /auth/saml/slo)."""
    sp = provider(request, platform)
    if sp is None or "saml" not in row.factors.split(","):
        return None
    # this console session's IdP session; after a step-up rotated its id, the user's latest one
    linked = session.scalar(
        select(SamlSession).where(SamlSession.auth_session_id == row.id)
    ) or session.scalar(
        select(SamlSession)
        .where(SamlSession.user_id == row.user_id)
        .order_by(SamlSession.created_at.desc())
        .limit(1)
    )
    if linked is None:
        return None
    name_id = platform.desk.sealer.open(
        linked.name_id_sealed, context=f"saml-session:{linked.auth_session_id}"
    )
    return saml.logout_request_url(
        sp, name_id=name_id, session_index=linked.session_index, relay_state=""
    )
