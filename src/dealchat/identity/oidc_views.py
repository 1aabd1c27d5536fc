"""Console login through the bank's OpenID provider: `/auth/oidc/login` sends the browser there,
`/auth/oidc/callback` checks what comes back and starts an internal console session."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from dealchat.api.auth_views import set_session_cookie
from dealchat.api.deps import Platform, PlatformDep, public, source_ip
from dealchat.db.session import unit_of_work
from dealchat.identity import federated_login, federation
from dealchat.identity.views import page

router = APIRouter(dependencies=[Depends(public("login through the bank's OpenID provider"))])
AFTER_LOGIN = federated_login.AFTER_LOGIN


def _client(request: Request, platform: Platform) -> federation.OidcClient | None:
    """The relying party, built once per app from settings; None when federation is off."""
    settings = platform.settings.oidc
    if not settings.enabled:
        return None
    client: federation.OidcClient | None = getattr(request.app.state, "oidc_client", None)
    if client is None:
        redirect = f"{platform.settings.public_url}{federation.CALLBACK_PATH}"
        client = federation.OidcClient(settings, redirect_uri=redirect)
        request.app.state.oidc_client = client
    return client


@router.get("/auth/oidc/login", include_in_schema=False)
def oidc_login(request: Request, platform: PlatformDep) -> Response:
    client = _client(request, platform)
    if client is None:
        return page("<p>Login through the bank's provider is not configured.</p>", 404)
    with unit_of_work(platform.sessions) as session:
        url = federation.begin(
            session, client=client, sealer=platform.desk.sealer, now=platform.desk.clock()
        )
    return RedirectResponse(url, status_code=303)


@router.get(federation.CALLBACK_PATH, include_in_schema=False)
def oidc_callback(  # noqa: PLR0917 - FastAPI injects these by name
    request: Request,
    platform: PlatformDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
    iss: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    client = _client(request, platform)
    if client is None:
        return page("<p>Login through the bank's provider is not configured.</p>", 404)
    now, address = platform.desk.clock(), source_ip(request)
    with unit_of_work(platform.sessions) as session:
        try:
            if error or not (state and code):
                raise federation.FederationError(f"provider-error:{error[:40] or 'no-code'}")
            if iss and iss != client.issuer:  # RFC 9207: the response names who answered
                raise federation.FederationError("response-issuer-mismatch")
            found = federation.complete(
                session, client=client, sealer=platform.desk.sealer, state=state, code=code, now=now
            )
        except federation.FederationError as failed:
            return federated_login.refused(
                session, rule=failed.rule, method="oidc", source_ip=address, now=now
            )
        started = federated_login.sign_in(
            session,
            platform,
            user=found.user,
            method="oidc",
            rule=f"oidc:{client.issuer}",
            claims=found.claims,
            source_ip=address,
            now=now,
        )
    response = federated_login.onward(federated_login.next_page(started), "Signed in at your bank.")
    set_session_cookie(response, started.token, platform)
    return response
