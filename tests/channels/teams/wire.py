"""Bot Framework activities as the Bot Connector posts them, with a JWT from a key the test
owns; `keys_server` serves the OpenID metadata and JWKS (and the token endpoint) locally."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from dealchat.channels.interfaces import WebhookRequest
from tests.channels.platform_server import Answer, Call
from tests.channels.wire_common import load

APP_ID = "c9e8c047-2a74-40a2-b28a-b162d5f5327c"
APP_PASSWORD = "Zk~8Q~teams.app.password-7b"
ISSUER = "https://api.botframework.com"
PATH = "/channels/teams/webhook"
KEY = RSAKey.generate_key(2048, parameters={"kid": "bf-key-1", "use": "sig"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "bf-key-1", "use": "sig"})


def routes(base: str, keys: list[RSAKey] | None = None) -> dict[str, Any]:
    jwks = KeySet(keys or [KEY]).as_dict(private=False)
    metadata = {
        "issuer": ISSUER,
        "jwks_uri": f"{base}/keys",
        "id_token_signing_alg_values_supported": ["RS256"],
    }
    return {
        "/openid": lambda call: Answer(body=metadata),
        "/keys": lambda call: Answer(body=jwks),
        "/token": lambda call: Answer(body=load("teams", "token")),
    }


def token(
    service_url: str,
    *,
    now: dt.datetime,
    key: RSAKey = KEY,
    alg: str = "RS256",
    **overrides: Any,
) -> str:
    claims = {
        "iss": ISSUER,
        "aud": APP_ID,
        "exp": int(now.timestamp()) + 3600,
        "nbf": int(now.timestamp()) - 60,
        "serviceurl": service_url,
        **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def activity(
    service_url: str,
    *,
    now: dt.datetime,
    name: str = "message",
    text: str | None = None,
    mid: str | None = None,
) -> bytes:
    payload = load("teams", name)
    payload["serviceUrl"] = service_url
    payload["timestamp"] = now.isoformat().replace("+00:00", "Z")
    if text is not None:
        payload["text"] = text
    if mid is not None:
        payload["id"] = mid
    return json.dumps(payload).encode()


def request(body: bytes, bearer: str) -> WebhookRequest:
    headers = {"content-type": "application/json", "authorization": f"Bearer {bearer}"}
    return WebhookRequest("POST", PATH, headers, {}, body)


def activities(calls: list[Call]) -> list[Call]:
    return [call for call in calls if call.path.endswith("/activities")]
