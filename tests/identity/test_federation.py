"""Federation against a real OpenID provider on loopback (the npm package oidc-provider, started
by the `oidc_provider` fixture): PKCE S256, state, nonce, issuer, audience and algorithm checks,
accounts keyed by (issuer, subject), internal users only, an internal console session at the end."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.identity import federation
from dealchat.identity.models import FederatedIdentity, OidcLogin, User
from dealchat.identity.session_models import AuthSession
from dealchat.settings import OidcSettings, Settings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.identity import make_user
from tests.oidc.fixture import OidcProvider
from tests.test_no_secrets_logged import _database_text

DANA, EVE = "sub-dana-0001", "sub-eve-0002"


def _platform(
    platform: Platform,
    provider: OidcProvider,
    two_factor: dict[str, list[str]] | None = None,
    **changes: Any,
) -> Platform:
    two_factor = {"*": ["*"]} if two_factor is None else two_factor
    oidc = OidcSettings(
        enabled=True,
        issuer=provider.issuer,
        client_id="dealchat-test",
        client_secret=SecretStr(provider.client_secret),
        **changes,
    )
    # the bank's provider does MFA for everyone (tests/identity/test_strength.py: when it does not)
    auth = platform.settings.auth.model_copy(update={"federated_two_factor": two_factor})
    settings = platform.settings.model_copy(update={"oidc": oidc, "auth": auth})
    return dataclasses.replace(platform, settings=settings)


@pytest.fixture
def federated(platform: Platform, oidc_provider: OidcProvider) -> Platform:
    return _platform(platform, oidc_provider)


def _client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def app_client(federated: Platform) -> Iterator[TestClient]:
    yield from _client(federated)


def _to_callback(client: TestClient, issuer: str, login_hint: str) -> str:
    """Our login redirect, then the provider in a browser of its own, up to our callback URL."""
    start = client.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    url = start.headers["location"]
    query = parse_qs(urlparse(url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["state"][0]
    assert query["nonce"][0]
    url += f"&login_hint={login_hint}"
    with httpx.Client(follow_redirects=False, timeout=20) as browser:
        while url.startswith(issuer):
            answer = browser.get(url)
            assert answer.status_code in {302, 303}, answer.text
            url = urljoin(url, answer.headers["location"])
    return url


def _callback(client: TestClient, url: str) -> httpx.Response:
    parsed = urlparse(url)
    return client.get(f"{parsed.path}?{parsed.query}", follow_redirects=False)


def _link(platform: Platform, issuer: str, username: str, subject: str, kind: str) -> str:
    user = make_user(platform, username, kind=kind)
    with unit_of_work(platform.sessions) as session:
        session.add(FederatedIdentity(issuer=issuer, subject=subject, user_id=user.id))
    return user.id


def test_a_linked_internal_user_gets_a_console_session(
    app_client: TestClient, federated: Platform, oidc_provider: OidcProvider
) -> None:
    dana = _link(federated, oidc_provider.issuer, "dana", DANA, "internal")
    url = _to_callback(app_client, oidc_provider.issuer, DANA)
    assert url.startswith(f"{federated.settings.public_url}{federation.CALLBACK_PATH}?")
    done = _callback(app_client, url)
    assert done.status_code == 200, done.text  # a page of ours moves on (SameSite=Strict)
    assert 'url=/console/"' in done.text
    assert done.headers["set-cookie"].startswith("__Host-")
    with unit_of_work(federated.sessions) as session:
        row = session.scalars(select(AuthSession)).one()
        assert (row.user_id, row.channel, row.factors) == (dana, "console", "oidc,idp-mfa")
    decided = entries(federated, "authn:succeeded")
    assert [(e["rule"], e["user"], e["channel"]) for e in decided] == [
        (f"oidc:{oidc_provider.issuer}", dana, "console-oidc")
    ]
    again = _callback(app_client, url)
    assert again.status_code == 401, "a state (and a code) works once"
    assert entries(federated, "authn:failed")[-1]["rule"] == "state-unknown-used-or-expired"


def test_an_unknown_subject_is_refused_unless_provisioning_is_on(
    platform: Platform, oidc_provider: OidcProvider
) -> None:
    closed = _platform(platform, oidc_provider)
    for client in _client(closed):
        assert _callback(client, _to_callback(client, oidc_provider.issuer, EVE)).status_code == 401
    assert entries(closed, "authn:failed")[-1]["rule"] == "subject-not-linked"
    provisioning = _platform(platform, oidc_provider, auto_provision=True)
    for client in _client(provisioning):
        done = _callback(client, _to_callback(client, oidc_provider.issuer, EVE))
        assert done.status_code == 200, [e["rule"] for e in entries(provisioning, "authn:failed")]
    with unit_of_work(platform.sessions) as session:
        eve = session.scalars(select(User).where(User.username == "eve")).one()
        assert eve.kind == "internal"
        linked = session.scalars(select(FederatedIdentity)).one()
        assert (linked.issuer, linked.subject, linked.user_id) == (
            oidc_provider.issuer,
            EVE,
            eve.id,
        )


def test_an_external_user_never_federates(
    app_client: TestClient, federated: Platform, oidc_provider: OidcProvider
) -> None:
    _link(federated, oidc_provider.issuer, "dana", DANA, "external")
    assert (
        _callback(app_client, _to_callback(app_client, oidc_provider.issuer, DANA)).status_code
        == 401
    )
    assert entries(federated, "authn:failed")[-1]["rule"] == "not-an-internal-user"


def test_a_forged_state_or_a_provider_error_fails(
    app_client: TestClient, federated: Platform, oidc_provider: OidcProvider
) -> None:
    _link(federated, oidc_provider.issuer, "dana", DANA, "internal")
    url = _to_callback(app_client, oidc_provider.issuer, DANA)
    forged = url.replace("state=", "state=x")
    assert _callback(app_client, forged).status_code == 401
    path = federation.CALLBACK_PATH
    assert app_client.get(f"{path}?error=access_denied").status_code == 401
    rules = [e["rule"] for e in entries(federated, "authn:failed")]
    assert rules == ["state-unknown-used-or-expired", "provider-error:access_denied"]


def _tamper(platform: Platform, **values: str) -> None:
    with unit_of_work(platform.sessions) as session:
        session.execute(update(OidcLogin).values(**values))


def test_a_wrong_nonce_or_pkce_verifier_fails(
    app_client: TestClient, federated: Platform, oidc_provider: OidcProvider
) -> None:
    _link(federated, oidc_provider.issuer, "dana", DANA, "internal")
    url = _to_callback(app_client, oidc_provider.issuer, DANA)
    _tamper(federated, nonce="not-the-nonce-that-was-sent")
    assert _callback(app_client, url).status_code == 401
    url = _to_callback(app_client, oidc_provider.issuer, DANA)
    with unit_of_work(federated.sessions) as session:
        row = session.scalars(select(OidcLogin).where(OidcLogin.used_at.is_(None))).one()
        other = federated.desk.sealer.seal("x" * 64, context=f"oidc:{row.id}")
        row.verifier_sealed = other
    assert _callback(app_client, url).status_code == 401
    rules = [e["rule"] for e in entries(federated, "authn:failed")]
    assert rules == ["id-token-claims:nonce", "code-exchange-failed"]


def test_an_algorithm_outside_the_allowlist_is_refused(
    platform: Platform, oidc_provider_factory: Callable[[str], OidcProvider]
) -> None:
    es256 = oidc_provider_factory("ES256")
    only_rsa = _platform(platform, es256, algorithms=["RS256"])
    _link(only_rsa, es256.issuer, "dana", DANA, "internal")
    for client in _client(only_rsa):
        assert _callback(client, _to_callback(client, es256.issuer, DANA)).status_code == 401
    assert entries(only_rsa, "authn:failed")[-1]["rule"] == "id-token-signature-or-algorithm"
    accepting = _platform(platform, es256, algorithms=["ES256"])
    for client in _client(accepting):
        assert _callback(client, _to_callback(client, es256.issuer, DANA)).status_code == 200


def test_issuer_and_audience_are_checked(
    platform: Platform, oidc_provider: OidcProvider, clock: Clock
) -> None:
    federated = _platform(platform, oidc_provider)
    _link(federated, oidc_provider.issuer, "dana", DANA, "internal")
    captured: list[dict[str, Any]] = []
    original = federation.OidcClient.exchange

    def capture(self: federation.OidcClient, **kwargs: str) -> dict[str, Any]:
        token = original(self, **kwargs)
        captured.append(token)
        return token

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(federation.OidcClient, "exchange", capture)
        for client in _client(federated):
            assert (
                _callback(client, _to_callback(client, oidc_provider.issuer, DANA)).status_code
                == 200
            )
    id_token = captured[0]["id_token"]
    with unit_of_work(federated.sessions) as session:
        nonce = session.scalars(select(OidcLogin.nonce)).one()
    good = federation.OidcClient(federated.settings.oidc, redirect_uri="http://x/cb")
    now = dt.datetime.now(dt.UTC)
    assert federation.verify_id_token(id_token, client=good, nonce=nonce, now=now)["sub"] == DANA
    other = federated.settings.oidc.model_copy(update={"client_id": "someone-else"})
    with pytest.raises(federation.FederationError, match="aud"):
        federation.verify_id_token(
            id_token, client=federation.OidcClient(other, redirect_uri="x"), nonce=nonce, now=now
        )
    later = now + dt.timedelta(hours=3)
    with pytest.raises(federation.FederationError, match="exp"):
        federation.verify_id_token(id_token, client=good, nonce=nonce, now=later)
    # The same server under another name is another issuer: discovery does not match.
    alias = oidc_provider.issuer.replace("127.0.0.1", "localhost")
    renamed = federated.settings.oidc.model_copy(update={"issuer": alias})
    with pytest.raises(federation.FederationError, match="discovery-issuer-mismatch"):
        federation.OidcClient(renamed, redirect_uri="x").endpoints()


def test_settings_refuse_unsafe_algorithms_and_plain_http() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        OidcSettings(algorithms=["none"])
    with pytest.raises(ValueError, match="not allowed"):
        OidcSettings(algorithms=["HS256"])
    with pytest.raises(ValueError, match="https"):
        OidcSettings(issuer="http://sso.bank.test")
    assert OidcSettings(issuer="https://sso.bank.test/").issuer == "https://sso.bank.test"


def test_a_response_from_another_issuer_is_refused(
    app_client: TestClient, federated: Platform, oidc_provider: OidcProvider
) -> None:
    _link(federated, oidc_provider.issuer, "dana", DANA, "internal")
    url = _to_callback(app_client, oidc_provider.issuer, DANA)
    assert "iss=" in url, "oidc-provider names itself in the response (RFC 9207)"
    mixed = url.replace("iss=", "iss=https%3A%2F%2Fevil.test&was=")
    assert _callback(app_client, mixed).status_code == 401
    assert entries(federated, "authn:failed")[-1]["rule"] == "response-issuer-mismatch"


def test_cli_links_an_internal_user_only(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    monkeypatch.setenv("DEALCHAT_OIDC__ISSUER", "https://sso.bank.test")
    make_user(platform, "dana", kind="internal")
    make_user(platform, "alice", kind="external")
    runner = CliRunner()
    done = runner.invoke(app, ["users", "link-oidc", "dana", DANA])
    assert done.exit_code == 0, done.output
    assert runner.invoke(app, ["users", "link-oidc", "alice", EVE]).exit_code == 2
    with unit_of_work(platform.sessions) as session:
        linked = session.scalars(select(FederatedIdentity)).one()
        assert (linked.issuer, linked.subject) == ("https://sso.bank.test", DANA)


def test_no_client_secret_code_state_or_token_is_kept(
    app_client: TestClient,
    federated: Platform,
    oidc_provider: OidcProvider,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    _link(federated, oidc_provider.issuer, "dana", DANA, "internal")
    url = _to_callback(app_client, oidc_provider.issuer, DANA)
    done = _callback(app_client, url)
    assert done.status_code == 200
    query = parse_qs(urlparse(url).query)
    cookie = done.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    kept = [oidc_provider.client_secret, query["code"][0], query["state"][0], cookie]
    # the test's browser (httpx, httpcore at DEBUG) logs the redirects it follows: not ours
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logged = "\n".join(r.getMessage() + repr(vars(r)) for r in server_side)
    stored = _database_text(federated)
    for secret in kept:
        assert secret not in logged
        assert secret not in stored
