"""Microsoft Teams through the Bot Framework (Bot Connector service).

In: `Authorization: Bearer <JWT>` signed by the Bot Framework. We fetch the OpenID metadata, then
its JWKS (cached, refreshed once when an unknown `kid` shows up), and accept only RS256 (the
allowlist: `none`, HMAC and anything else are refused before any key is tried), issuer
`https://api.botframework.com`, audience our app id, `exp`/`nbf` with 5 minutes of clock skew, and a
`serviceUrl` claim equal to the activity's. The activity's own `timestamp` must be fresh, and
the same activity id presented again is a replay. The conversation is `serviceUrl|conversation.id`
so the reply goes back where the activity came from, and only to an allowed service URL.

Out: `POST {serviceUrl}v3/conversations/{id}/activities` with a bearer token from the client
credentials grant (cached until shortly before it expires).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from typing import Any
from urllib.parse import quote

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from dealchat.channels import http
from dealchat.channels.config import TeamsSettings
from dealchat.channels.interfaces import (
    DeliveryFailed,
    InboundMessage,
    OutboundMessage,
    Parsed,
    Rejected,
    WebhookRequest,
)

NAME = "teams"
ALGORITHMS = ["RS256"]
SKEW_SECONDS = 300
_REFRESH = dt.timedelta(minutes=5)


class TeamsAdapter:
    name = NAME

    def __init__(self, settings: TeamsSettings, *, client: httpx.Client | None = None) -> None:
        self._settings = settings
        self._password = settings.secret("app_password")
        self._window = dt.timedelta(seconds=settings.max_age_seconds)
        self.replays = http.ReplayGuard(self._window)
        self._client = client or httpx.Client(timeout=http.TIMEOUT)
        self._keys = _Jwks(self._client, settings.openid_url)
        self._token = _ClientCredentials(self._client, settings, self._password)

    def verify(self, request: WebhookRequest, *, now: dt.datetime) -> None:
        scheme, _, raw = (request.header("authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not raw:
            raise Rejected("no bearer token")
        claims = self._claims(raw.strip(), now)
        activity = _json(request.body)
        service_url = str(activity.get("serviceUrl", ""))
        if claims.get("serviceurl", claims.get("serviceUrl")) != service_url:
            raise Rejected("token serviceUrl differs from the activity's")
        if not self._allowed(service_url):
            raise Rejected("serviceUrl not allowed")
        http.check_fresh(_timestamp(activity), now=now, window=self._window)
        self.replays.check(_proof(raw.strip(), activity), now=now)

    def release(self, request: WebhookRequest) -> None:
        raw = (request.header("authorization") or "").partition(" ")[2].strip()
        try:
            self.replays.release(_proof(raw, _json(request.body)))
        except Rejected:
            return

    def _claims(self, raw: str, now: dt.datetime) -> dict[str, Any]:
        try:
            token = jwt.decode(raw, self._keys.for_token(raw, now), algorithms=ALGORITHMS)
            registry = jwt.JWTClaimsRegistry(
                now=int(now.timestamp()),
                leeway=SKEW_SECONDS,
                iss={"essential": True, "value": self._settings.issuer},
                aud={"essential": True, "value": self._settings.app_id},
                exp={"essential": True},
            )
            registry.validate(token.claims)
        except (JoseError, ValueError, KeyError) as error:
            raise Rejected(f"bad bot framework token: {type(error).__name__}") from error
        return dict(token.claims)

    def _allowed(self, service_url: str) -> bool:
        return any(service_url.startswith(prefix) for prefix in self._settings.service_urls)

    def parse(self, request: WebhookRequest) -> Parsed:
        activity = _json(request.body)
        text = activity.get("text")
        if activity.get("type") != "message" or not isinstance(text, str) or not text.strip():
            return Parsed()
        sender = activity.get("from") or {}
        message = InboundMessage(
            channel=NAME,
            conversation_id=f"{activity['serviceUrl']}|{activity['conversation']['id']}",
            sender_id=str(sender.get("aadObjectId") or sender["id"]),
            message_id=str(activity["id"]),
            text=_without_mention(text),
        )
        return Parsed(messages=[message])

    def render(self, conversation_id: str, message: OutboundMessage) -> dict[str, Any]:
        _service, _, conversation = conversation_id.partition("|")
        return {
            "type": "message",
            "conversation": {"id": conversation},
            "text": http.with_link(message.text, message.link),
            "textFormat": "plain",
        }

    def send(self, conversation_id: str, messages: list[OutboundMessage]) -> None:
        service, _, conversation = conversation_id.partition("|")
        if not self._allowed(service):
            raise DeliveryFailed("serviceUrl not allowed", permanent=True)
        url = f"{service.rstrip('/')}/v3/conversations/{quote(conversation, safe='')}/activities"
        for message in messages:
            headers = {"Authorization": f"Bearer {self._token.get()}"}
            http.post(
                self._client, url, json=self.render(conversation_id, message), headers=headers
            )

    def check(self) -> str:
        """The signing keys can be fetched and a connector token obtained."""
        keys = self._keys.refresh()
        self._token.get()
        return f"{len(keys.keys)} signing keys, connector token for app {self._settings.app_id}"


class _Jwks:
    """The Bot Framework's signing keys, from its OpenID metadata; refreshed on an unknown kid."""

    def __init__(self, client: httpx.Client, openid_url: str) -> None:
        self._client, self._openid_url = client, openid_url
        self._keys: KeySet | None = None
        self._fetched: dt.datetime | None = None
        self._lock = threading.Lock()

    def for_token(self, raw: str, now: dt.datetime) -> KeySet:
        kid = _kid(raw)
        with self._lock:
            stale = self._fetched is None or now - self._fetched > _REFRESH
            if self._keys is None or (not _has(self._keys, kid) and stale):
                self._keys, self._fetched = self._fetch(), now
            return self._keys

    def refresh(self) -> KeySet:
        with self._lock:
            self._keys, self._fetched = self._fetch(), dt.datetime.now(dt.UTC)
            return self._keys

    def _fetch(self) -> KeySet:
        try:
            metadata = self._client.get(self._openid_url).raise_for_status().json()
            jwks = self._client.get(metadata["jwks_uri"]).raise_for_status().json()
            return KeySet.import_key_set(jwks)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            raise Rejected(f"signing keys unavailable: {type(error).__name__}") from error


class _ClientCredentials:
    def __init__(self, client: httpx.Client, settings: TeamsSettings, password: str) -> None:
        self._client, self._settings, self._password = client, settings, password
        self._token: str | None = None
        self._until = dt.datetime.min.replace(tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def get(self) -> str:
        with self._lock:
            now = dt.datetime.now(dt.UTC)
            if self._token is None or now >= self._until:
                self._token, self._until = self._fetch(now)
            return self._token

    def _fetch(self, now: dt.datetime) -> tuple[str, dt.datetime]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.app_id,
            "client_secret": self._password,
            "scope": self._settings.token_scope,
        }
        try:
            response = self._client.post(self._settings.token_url, data=form)
        except httpx.HTTPError as error:
            raise DeliveryFailed(f"token: {type(error).__name__}") from error
        http.check_status(response)
        body = http.json_body(response)
        lifetime = max(int(body.get("expires_in", 3600)) - 300, 60)
        return str(body["access_token"]), now + dt.timedelta(seconds=lifetime)


def _kid(raw: str) -> str | None:
    try:
        header = json.loads(http.b64url_decode(raw.split(".", 1)[0]))
    except (ValueError, IndexError) as error:
        raise Rejected("malformed token") from error
    if not isinstance(header, dict) or header.get("alg") not in ALGORITHMS:
        raise Rejected("token algorithm not allowed")
    kid = header.get("kid")
    return str(kid) if kid is not None else None


def _has(keys: KeySet, kid: str | None) -> bool:
    return kid is None or any(key.kid == kid for key in keys.keys)


def _json(body: bytes) -> dict[str, Any]:
    try:
        activity = json.loads(body)
    except ValueError as error:
        raise Rejected("body is not JSON") from error
    if not isinstance(activity, dict):
        raise Rejected("body is not a JSON object")
    return activity


def _timestamp(activity: dict[str, Any]) -> dt.datetime:
    try:
        stamp = dt.datetime.fromisoformat(str(activity["timestamp"]).replace("Z", "+00:00"))
    except (KeyError, ValueError) as error:
        raise Rejected("activity without a valid timestamp") from error
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _proof(raw_token: str, activity: dict[str, Any]) -> str:
    """The same token with the same activity is a replay; the Bot Connector's later retry of an
    activity comes with a newer token and is let through (and deduplicated by its id)."""
    conversation = (activity.get("conversation") or {}).get("id", "")
    digest = hashlib.sha256(raw_token.encode("utf-8")).hexdigest()
    return f"{digest}|{conversation}|{activity.get('id', '')}"


def _without_mention(text: str) -> str:
    """In channels Teams prefixes `<at>Bot</at>`; the order is what follows."""
    stripped = text.strip()
    if stripped.startswith("<at>") and "</at>" in stripped:
        stripped = stripped.split("</at>", 1)[1].strip()
    return stripped or text
