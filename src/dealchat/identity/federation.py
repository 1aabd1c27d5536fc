"""OpenID Connect federation for internal users (Authlib: the code flow; joserfc: the ID token).

The authorization code flow with PKCE (S256), a random `state` (stored hashed, single use, 10
minutes) and `nonce`; the ID token is checked for its signature against the provider's JWKS with an
allowlist of asymmetric algorithms, its issuer (exactly the configured one, also in discovery), its
audience (our client id; `azp` when there are several), expiry and issue time, and the nonce.
Accounts are keyed by (issuer, subject) in `federated_identity`; only internal users federate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dealchat.db.base import utcnow
from dealchat.identity.models import FederatedIdentity, OidcLogin, User
from dealchat.identity.parties import record_user_created
from dealchat.records.events import AuditEvent
from dealchat.records.personal import record_sealed
from dealchat.records.sealing import Sealer
from dealchat.records.service import record_new
from dealchat.settings import OidcSettings

CALLBACK_PATH = "/auth/oidc/callback"
UNUSABLE_PASSWORD = "!federated"  # noqa: S105 - never a valid argon2 hash: no password login


class FederationError(Exception):
    """A federated login that must not succeed; `rule` goes to the audit log, never to the user."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    jwks_uri: str
    userinfo: str | None


class OidcClient:
    """The relying party: discovery, authorization URL, code exchange, keys. One per app."""

    def __init__(self, settings: OidcSettings, *, redirect_uri: str) -> None:
        if not (settings.issuer and settings.client_id):
            raise ValueError("set DEALCHAT_OIDC__ISSUER and DEALCHAT_OIDC__CLIENT_ID")
        self.settings, self.redirect_uri = settings, redirect_uri
        self.issuer, self.client_id = settings.issuer, settings.client_id
        self._endpoints: Endpoints | None = None
        self._keys: KeySet | None = None

    def _oauth(self) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self.settings.secret(),
            scope=" ".join(self.settings.scopes),
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.timeout_seconds,
        )

    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            found = httpx.get(url, timeout=self.settings.timeout_seconds).raise_for_status().json()
            if found.get("issuer") != self.issuer:
                raise FederationError("discovery-issuer-mismatch")
            self._endpoints = Endpoints(
                self.issuer,
                str(found["authorization_endpoint"]),
                str(found["token_endpoint"]),
                str(found["jwks_uri"]),
                str(found["userinfo_endpoint"]) if found.get("userinfo_endpoint") else None,
            )
        return self._endpoints

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        with self._oauth() as oauth:
            url, _ = oauth.create_authorization_url(
                self.endpoints().authorization,
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return str(url)

    def exchange(self, *, code: str, code_verifier: str) -> dict[str, Any]:
        try:
            with self._oauth() as oauth:
                token = oauth.fetch_token(
                    self.endpoints().token, code=code, code_verifier=code_verifier
                )
        except Exception as error:  # any failure of the exchange is one answer
            raise FederationError("code-exchange-failed") from error
        return dict(token)

    def userinfo(self, *, access_token: str, subject: str) -> dict[str, Any]:
        """The profile claims (only used to name a provisioned user); same subject or nothing."""
        url = self.endpoints().userinfo
        if url is None:
            return {}
        headers = {"Authorization": f"Bearer {access_token}"}
        found = httpx.get(url, headers=headers, timeout=self.settings.timeout_seconds)
        profile: dict[str, Any] = found.raise_for_status().json()
        if profile.get("sub") != subject:
            raise FederationError("userinfo-subject-mismatch")
        return profile

    def keys(self, *, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            url = self.endpoints().jwks_uri
            found = httpx.get(url, timeout=self.settings.timeout_seconds).raise_for_status().json()
            self._keys = KeySet.import_key_set(found)
        return self._keys


def verify_id_token(
    id_token: str, *, client: OidcClient, nonce: str, now: dt.datetime
) -> dict[str, Any]:
    """The ID token's claims after every check, or FederationError naming the failed one."""
    algorithms = client.settings.algorithms
    try:
        try:
            token = jwt.decode(id_token, client.keys(), algorithms=algorithms)
        except JoseError:
            token = jwt.decode(id_token, client.keys(refresh=True), algorithms=algorithms)
    except JoseError as error:
        raise FederationError("id-token-signature-or-algorithm") from error
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        now=int(now.timestamp()),
        leeway=client.settings.leeway_seconds,
        iss={"essential": True, "value": client.issuer},
        sub={"essential": True},
        aud={"essential": True, "value": client.client_id},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as error:
        raise FederationError(f"id-token-claims:{_claim_of(error)}") from error
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client.client_id:
        raise FederationError("id-token-claims:azp")
    return claims


def _claim_of(error: JoseError) -> str:
    if isinstance(error, ExpiredTokenError):
        return "exp"
    found = re.search(r"'(\w+)'", str(error))
    return found.group(1) if found else "invalid"


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def begin(session: Session, *, client: OidcClient, sealer: Sealer, now: dt.datetime) -> str:
    """A new authorization request; returns the provider's URL to send the browser to."""
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43-128
    row = OidcLogin(state_hash=_state_hash(state), nonce=nonce, verifier_sealed="", created_at=now)
    row.expires_at = now + dt.timedelta(seconds=client.settings.login_ttl_seconds)
    record_new(
        session,
        row,
        event=AuditEvent.FEDERATION_STARTED,
        actor="console:anonymous",
        kind="oidc-login",
        payload={"issuer": client.issuer, "expires_at": row.expires_at},
    )
    row.verifier_sealed = sealer.seal(verifier, context=f"oidc:{row.id}")
    return client.authorization_url(state=state, nonce=nonce, code_verifier=verifier)


def _spend_state(session: Session, state: str, now: dt.datetime) -> OidcLogin:
    row = session.scalar(select(OidcLogin).where(OidcLogin.state_hash == _state_hash(state)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise FederationError("state-unknown-used-or-expired")
    spent = session.execute(
        update(OidcLogin)
        .where(OidcLogin.id == row.id, OidcLogin.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not spent.rowcount:  # type: ignore[attr-defined]
        raise FederationError("state-unknown-used-or-expired")
    return row


@dataclass(frozen=True)
class Federated:
    user: User
    claims: dict[str, Any]


def complete(
    session: Session,
    *,
    client: OidcClient,
    sealer: Sealer,
    state: str,
    code: str,
    now: dt.datetime,
) -> Federated:
    """The provider sent the browser back: check state, exchange the code, verify, find the user."""
    row = _spend_state(session, state, now)
    verifier = sealer.open(row.verifier_sealed, context=f"oidc:{row.id}")
    token = client.exchange(code=code, code_verifier=verifier)
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise FederationError("no-id-token")
    claims = verify_id_token(id_token, client=client, nonce=row.nonce, now=now)
    if client.settings.auto_provision and "preferred_username" not in claims:
        profile = client.userinfo(
            access_token=str(token.get("access_token", "")), subject=claims["sub"]
        )
        claims = {**profile, **claims}
    user = account_for(session, client=client, claims=claims, now=now)
    return Federated(user, claims)


def account_for(
    session: Session, *, client: OidcClient, claims: dict[str, Any], now: dt.datetime
) -> User:
    """The internal user linked to (issuer, subject); provisioned if settings allow."""
    return account_for_subject(
        session,
        issuer=client.issuer,
        subject=str(claims["sub"]),
        now=now,
        provision=claims if client.settings.auto_provision else None,
    )


def account_for_subject(
    session: Session,
    *,
    issuer: str,
    subject: str,
    now: dt.datetime,
    by: str = "link",
    provision: dict[str, Any] | None = None,
) -> User:
    """The internal user an identity provider's subject is (OIDC and SAML alike).

    `by="link"`: (issuer, subject) in `federated_identity`, created from `provision`'s profile
    when given; `by="username"`: the subject is the username. Only unlocked internal users."""
    linked: FederatedIdentity | None = None
    if by == "username":
        found = session.scalar(select(User).where(User.username == subject.lower()[:64]))
        if found is None:
            raise FederationError("subject-not-a-user")
    else:
        linked = session.scalar(
            select(FederatedIdentity).where(
                FederatedIdentity.issuer == issuer, FederatedIdentity.subject == subject
            )
        )
        if linked is None:
            if provision is None:
                raise FederationError("subject-not-linked")
            user = _provision(session, issuer=issuer, claims=provision)
            linked = link(session, user=user, issuer=issuer, subject=subject, actor="oidc")
        found = session.get(User, linked.user_id)
    if found is None or found.kind != "internal":
        raise FederationError("not-an-internal-user")
    if found.locked_at is not None:
        raise FederationError("account-locked")
    if linked is not None:
        linked.last_login_at = now
    return found


def _provision(session: Session, *, issuer: str, claims: dict[str, Any]) -> User:
    wanted = str(claims.get("preferred_username") or claims.get("email", "")).split("@")[0]
    username = re.sub(r"[^a-z0-9._-]", "", wanted.lower())[:64]
    taken = session.scalar(select(User.id).where(User.username == username))
    if len(username) < 3 or taken is not None:
        raise FederationError("cannot-provision-username")
    user = User(username=username, kind="internal", password_hash=UNUSABLE_PASSWORD)
    payload = {"kind": "internal", "federated": True}
    record_user_created(session, user, actor=f"oidc:{issuer}", payload=payload)
    return user


def link(
    session: Session, *, user: User, issuer: str, subject: str, actor: str
) -> FederatedIdentity:
    """Link an internal user to (issuer, subject): audited."""
    if user.kind != "internal":
        raise FederationError("not-an-internal-user")
    row = FederatedIdentity(issuer=issuer, subject=subject, user_id=user.id)
    session.add(row)
    session.flush()
    record_sealed(  # the IdP's subject identifies the person: sealed under their month
        session,
        event=AuditEvent.FEDERATION_LINKED,
        actor=actor,
        subject=f"federated-identity:{row.id}",
        payload={"issuer": issuer, "user": user.id},
        person=user.id,
        details={"subject": subject},
        at=utcnow(),
    )
    return row


def audit_decision(
    session: Session,
    *,
    user: User | None,
    rule: str,
    source_ip: str | None,
    now: dt.datetime,
    claims: dict[str, Any] | None = None,
    method: str = "oidc",
) -> None:
    """The access-log entry of a federated login (`method` oidc or saml), like `login.decide`'s;
    `claims` holds what the provider said of the authentication (`amr`, `acr`)."""
    ok = user is not None
    payload = {
        "at": now,
        "user": user.id if user else None,
        "channel": f"console-{method}",
        "purpose": "login",
        "factors": [method, *[str(m) for m in (claims or {}).get("amr", [])]] if ok else [],
        "acr": (claims or {}).get("acr"),
        "result": "success" if ok else "failure",
        "rule": rule,
    }
    record_sealed(
        session,
        event=AuditEvent.AUTHN_SUCCEEDED if ok else AuditEvent.AUTHN_FAILED,
        actor=f"user:{user.id}" if user else f"console-{method}:anonymous",
        subject=f"user:{user.id}" if user else "user:unknown",
        payload=payload,
        person=user.id if user else None,
        details={"source_ip": source_ip},
        at=now,
    )
