"""Authentication strength from the identity provider: `DEALCHAT_AUTH__FEDERATED_TWO_FACTOR` says
per role which SAML AuthnContextClassRef or OIDC acr/amr counts as two factors; a federated login
below it gets a session that is no login until our own authenticator code has passed (throttled,
single use, audited), and a user with no code enrolled does not get in. Against the real IdPs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import saml
from dealchat.identity.federated_login import SECOND_FACTOR_PATH, two_factors
from dealchat.identity.models import FederatedIdentity, SamlSession, User
from dealchat.identity.session_models import AuthSession
from dealchat.settings import OidcSettings
from tests.conftest import Clock
from tests.factories.access import give_role
from tests.factories.audit import entries
from tests.factories.identity import TestUser, make_user
from tests.identity.test_federation import DANA as OIDC_DANA
from tests.identity.test_federation import _callback, _to_callback
from tests.identity.test_saml import DANA, link, post_acs, saml_platform, to_idp
from tests.oidc.fixture import OidcProvider
from tests.saml.fixture import SamlIdp

MULTI = "urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor"
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
DEALERS_NEED_MFA = {"dealer": [MULTI, "mfa"], "*": ["*"]}


def test_every_role_the_user_holds_must_be_met() -> None:
    assert two_factors(DEALERS_NEED_MFA, ["dealer"], {MULTI})
    assert not two_factors(DEALERS_NEED_MFA, ["dealer"], {PASSWORD})
    assert two_factors(DEALERS_NEED_MFA, ["viewer"], {PASSWORD}), "a role not named reads *"
    assert not two_factors(DEALERS_NEED_MFA, ["viewer", "dealer"], {PASSWORD}), "the strictest"
    assert two_factors(DEALERS_NEED_MFA, [], set()), "no role reads *"
    assert not two_factors({}, [], {MULTI}), "nothing configured: nothing counts, our code is asked"
    assert not two_factors({"dealer": ["mfa"]}, ["viewer"], {"mfa"}), "no * entry: our code"
    assert two_factors({"*": ["pwd", "mfa"]}, ["x"], {"pwd", "mfa", "otp"}), "amr lists several"


@pytest.fixture
def app(
    platform: Platform, tmp_path: Path, saml_idp_factory: Callable[[str], SamlIdp]
) -> Iterator[tuple[TestClient, Platform, SamlIdp, TestUser]]:
    configured = saml_platform(platform, tmp_path / "idp-0" / "idp.xml", DEALERS_NEED_MFA)
    with TestClient(
        create_app(platform=configured), base_url="https://testserver", follow_redirects=False
    ) as client:
        idp = saml_idp_factory(client.get(saml.METADATA_PATH).text)
        dana = link(configured, idp, DANA)
        give_role(configured, DANA, "dealer", [])
        yield client, configured, idp, dana


def _live(platform: Platform) -> list[AuthSession]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuthSession).where(AuthSession.revoked_at.is_(None))))


def _second_factor(client: TestClient, otp: str) -> httpx.Response:
    form = client.get(SECOND_FACTOR_PATH)
    assert form.status_code == 200, form.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post(SECOND_FACTOR_PATH, data={"otp": otp, "csrf_token": csrf.group(1)})


def test_a_multi_factor_class_ref_is_enough_for_a_dealer(
    app: tuple[TestClient, Platform, SamlIdp, TestUser],
) -> None:
    client, platform, idp, dana = app
    done = post_acs(client, to_idp(client, idp, class_ref=MULTI))
    assert 'url=/console/"' in done.text
    [row] = _live(platform)
    assert (row.user_id, row.channel, row.factors) == (dana.id, "console", "saml,idp-mfa")
    assert client.get("/console/").status_code == 200


def test_a_password_class_ref_asks_a_dealer_for_our_code(
    app: tuple[TestClient, Platform, SamlIdp, TestUser], clock: Clock
) -> None:
    client, platform, idp, dana = app
    done = post_acs(client, to_idp(client, idp, class_ref=PASSWORD))
    assert done.status_code == 200
    assert f'url={SECOND_FACTOR_PATH}"' in done.text
    [pending] = _live(platform)
    assert (pending.channel, pending.factors) == ("console-2fa", "saml")
    # not a login for anything: the console, the API
    assert client.get("/console/").status_code in {303, 401}
    assert client.get("/api/v1/auth/whoami").status_code == 401
    wrong = "000000" if dana.code(clock.now.timestamp()) != "000000" else "111111"
    refused = _second_factor(client, wrong)
    assert refused.status_code == 401
    assert "wrong" not in refused.text.lower()
    done = _second_factor(client, dana.code(clock.now.timestamp()))
    assert done.status_code == 303
    assert done.headers["location"] == "/console/"
    [row] = _live(platform)
    assert (row.user_id, row.channel, row.factors) == (dana.id, "console", "saml,totp")
    assert client.get("/console/").status_code == 200
    assert client.get(SECOND_FACTOR_PATH).status_code == 303, "no pending login any more"
    with unit_of_work(platform.sessions) as session:  # single logout follows the new session
        assert session.scalars(select(SamlSession.auth_session_id)).one() == row.id
    decided = entries(platform, "authn:succeeded", "authn:failed")
    assert [(e["rule"], e["result"]) for e in decided] == [
        (f"saml:{idp.entity_id}:needs-second-factor", "success"),
        ("wrong-otp", "failure"),
        ("saml+totp", "success"),
    ]
    assert decided[1]["account_failures"] == 1


def test_no_code_enrolled_is_no_login(
    app: tuple[TestClient, Platform, SamlIdp, TestUser], clock: Clock
) -> None:
    client, platform, idp, dana = app
    with unit_of_work(platform.sessions) as session:
        session.execute(update(User).where(User.id == dana.id).values(totp_secret_sealed=None))
    post_acs(client, to_idp(client, idp, class_ref=PASSWORD))
    assert _second_factor(client, "123456").status_code == 401
    assert [row.channel for row in _live(platform)] == ["console-2fa"]
    assert entries(platform, "authn:failed")[-1]["rule"] == "no-second-factor"


def test_a_role_not_named_follows_the_star_entry(
    platform: Platform, tmp_path: Path, saml_idp_factory: Callable[[str], SamlIdp]
) -> None:
    configured = saml_platform(platform, tmp_path / "idp-0" / "idp.xml", DEALERS_NEED_MFA)
    with TestClient(create_app(platform=configured), base_url="https://testserver") as client:
        idp = saml_idp_factory(client.get(saml.METADATA_PATH).text)
        link(configured, idp, DANA)
        give_role(configured, DANA, "viewer", [])
        done = post_acs(client, to_idp(client, idp, class_ref=PASSWORD))
        assert 'url=/console/"' in done.text
    assert [row.factors for row in _live(configured)] == ["saml,idp-mfa"]


def test_an_oidc_login_without_mfa_amr_asks_for_our_code(
    platform: Platform, oidc_provider: OidcProvider, clock: Clock
) -> None:
    oidc = OidcSettings(
        enabled=True,
        issuer=oidc_provider.issuer,
        client_id="dealchat-test",
        client_secret=oidc_provider.client_secret,
    )
    auth = platform.settings.auth.model_copy(update={"federated_two_factor": {"*": ["mfa"]}})
    settings = platform.settings.model_copy(update={"oidc": oidc, "auth": auth})
    federated = dataclasses.replace(platform, settings=settings)
    dana = make_user(federated, DANA, kind="internal")
    with unit_of_work(federated.sessions) as session:
        session.add(
            FederatedIdentity(issuer=oidc_provider.issuer, subject=OIDC_DANA, user_id=dana.id)
        )
    with TestClient(
        create_app(platform=federated), base_url="https://testserver", follow_redirects=False
    ) as client:
        done = _callback(client, _to_callback(client, oidc_provider.issuer, OIDC_DANA))
        assert done.status_code == 200, [e["rule"] for e in entries(federated, "authn:failed")]
        assert f'url={SECOND_FACTOR_PATH}"' in done.text
        assert client.get("/console/").status_code in {303, 401}
        assert _second_factor(client, dana.code(clock.now.timestamp())).status_code == 303
        assert client.get("/console/").status_code == 200
    assert [row.factors for row in _live(federated)] == ["oidc,totp"]
