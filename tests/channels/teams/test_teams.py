"""Teams / Bot Framework specifics: the JWT against a JWKS served by a local OpenID server
(issuer, audience, expiry, not-before, RS256 allowlist, serviceUrl), key rotation, and the Bot
Connector reply with a client-credentials token."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from dealchat.channels.config import TeamsSettings
from dealchat.channels.interfaces import DeliveryFailed, OutboundMessage, Rejected
from dealchat.channels.teams.adapter import TeamsAdapter
from tests.channels.platform_server import PlatformServer, platform_server
from tests.channels.teams import wire
from tests.channels.wire_common import load

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def server() -> Iterator[PlatformServer]:
    with platform_server() as running:
        running.defaults.update(wire.routes(running.url))
        yield running


def _adapter(server: PlatformServer, client: httpx.Client) -> TeamsAdapter:
    settings = TeamsSettings(
        enabled=True,
        app_id=wire.APP_ID,
        app_password=wire.APP_PASSWORD,  # type: ignore[arg-type]
        openid_url=f"{server.url}/openid",
        token_url=f"{server.url}/token",
        service_urls=[f"{server.url}/"],
    )
    return TeamsAdapter(settings, client=client)


@pytest.fixture
def teams(server: PlatformServer) -> Iterator[TeamsAdapter]:
    with httpx.Client() as client:
        yield _adapter(server, client)


def _verify(teams: TeamsAdapter, server: PlatformServer, token: str, **activity: Any) -> None:
    service = activity.pop("service", f"{server.url}/")
    body = wire.activity(service, now=activity.pop("at", NOW), **activity)
    teams.verify(wire.request(body, token), now=NOW)


def test_a_genuine_activity_verifies(teams: TeamsAdapter, server: PlatformServer) -> None:
    _verify(teams, server, wire.token(f"{server.url}/", now=NOW))
    assert [call.path for call in server.calls] == ["/openid", "/keys"]


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"iss": "https://sts.windows.net/evil/"}, "issuer"),
        ({"aud": "another-bot"}, "audience"),
        ({"exp": int(NOW.timestamp()) - 301}, "expired beyond the skew"),
        ({"nbf": int(NOW.timestamp()) + 301}, "not yet valid"),
        ({"exp": None}, "no expiry"),
    ],
)
def test_bad_claims_are_rejected(
    teams: TeamsAdapter, server: PlatformServer, claims: dict[str, Any], why: str
) -> None:
    with pytest.raises(Rejected, match="bot framework token"):
        _verify(teams, server, wire.token(f"{server.url}/", now=NOW, **claims))


def test_expiry_within_five_minutes_of_skew_is_accepted(
    teams: TeamsAdapter, server: PlatformServer
) -> None:
    token = wire.token(f"{server.url}/", now=NOW, exp=int(NOW.timestamp()) - 200)
    _verify(teams, server, token)


def test_a_token_signed_by_another_key_is_rejected(
    teams: TeamsAdapter, server: PlatformServer
) -> None:
    token = wire.token(f"{server.url}/", now=NOW, key=wire.OTHER_KEY)
    with pytest.raises(Rejected):
        _verify(teams, server, token)


def _unsigned(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_alg_none_and_hmac_are_refused(teams: TeamsAdapter, server: PlatformServer) -> None:
    claims = {"iss": wire.ISSUER, "aud": wire.APP_ID, "exp": int(NOW.timestamp()) + 600}
    claims["serviceurl"] = f"{server.url}/"
    with pytest.raises(Rejected, match="algorithm"):
        _verify(teams, server, _unsigned(claims))
    # HS256 keyed with the public key's bytes: the classic confusion attack
    secret = OctKey.import_key(json.dumps(wire.KEY.as_dict(private=False)).encode())
    forged = jwt.encode({"alg": "HS256", "kid": wire.KEY.kid}, claims, secret, algorithms=["HS256"])
    with pytest.raises(Rejected, match="algorithm"):
        _verify(teams, server, forged)


def test_the_service_url_must_match_the_token_and_be_allowed(
    teams: TeamsAdapter, server: PlatformServer
) -> None:
    with pytest.raises(Rejected, match="serviceUrl"):
        _verify(teams, server, wire.token("https://elsewhere.example/", now=NOW))
    evil = "https://attacker.example/"
    with pytest.raises(Rejected, match="not allowed"):
        _verify(teams, server, wire.token(evil, now=NOW), service=evil)


def test_a_stale_activity_is_rejected(teams: TeamsAdapter, server: PlatformServer) -> None:
    token = wire.token(f"{server.url}/", now=NOW)
    with pytest.raises(Rejected, match="stale"):
        _verify(teams, server, token, at=NOW - dt.timedelta(minutes=6))


def test_a_missing_bearer_is_rejected(teams: TeamsAdapter, server: PlatformServer) -> None:
    body = wire.activity(f"{server.url}/", now=NOW)
    request = wire.request(body, "x")
    bare = type(request)("POST", wire.PATH, {}, {}, body)
    with pytest.raises(Rejected, match="bearer"):
        teams.verify(bare, now=NOW)


def test_a_rotated_key_is_fetched_once_it_appears(server: PlatformServer) -> None:
    new_key = RSAKey.generate_key(2048, parameters={"kid": "bf-key-2", "use": "sig"})
    with httpx.Client() as client:
        teams = _adapter(server, client)
        _verify(teams, server, wire.token(f"{server.url}/", now=NOW))
        server.defaults.update(wire.routes(server.url, [wire.KEY, new_key]))
        later = NOW + dt.timedelta(minutes=6)
        token = wire.token(f"{server.url}/", now=later, key=new_key)
        body = wire.activity(f"{server.url}/", now=later)
        teams.verify(wire.request(body, token), now=later)
    assert [call.path for call in server.calls] == ["/openid", "/keys", "/openid", "/keys"]


def test_conversation_updates_are_not_messages(teams: TeamsAdapter, server: PlatformServer) -> None:
    body = wire.activity(f"{server.url}/", now=NOW, name="conversation_update")
    assert teams.parse(wire.request(body, "x")).messages == []


def test_reply_is_a_bot_connector_activity(teams: TeamsAdapter, server: PlatformServer) -> None:
    conversation = load("teams", "message")["conversation"]["id"]
    teams.send(f"{server.url}/|{conversation}", [OutboundMessage("FILLED ORD-1")])
    teams.send(f"{server.url}/|{conversation}", [OutboundMessage("status")])
    token_calls = [call for call in server.calls if call.path == "/token"]
    [first, _second] = wire.activities(server.calls)
    assert len(token_calls) == 1, "the connector token is cached"
    assert "grant_type=client_credentials" in token_calls[0].body.decode()
    assert first.path.startswith("/v3/conversations/a%3A1mh5")
    assert first.headers["authorization"] == f"Bearer {load('teams', 'token')['access_token']}"
    assert first.json()["type"] == "message"
    assert first.json()["text"] == "FILLED ORD-1"


def test_a_reply_to_a_foreign_service_url_is_refused(teams: TeamsAdapter) -> None:
    with pytest.raises(DeliveryFailed) as failed:
        teams.send("https://attacker.example/|a:1", [OutboundMessage("hi")])
    assert failed.value.permanent


def test_check_fetches_keys_and_a_token(teams: TeamsAdapter, server: PlatformServer) -> None:
    assert teams.check() == f"1 signing keys, connector token for app {wire.APP_ID}"
    assert [call.path for call in server.calls] == ["/openid", "/keys", "/token"]
