"""SAML 2.0 single sign-on against a real IdP (pysaml2's `saml2.server.Server`, its own process,
tests/saml/idp.py): a signed AuthnRequest by redirect, the IdP's signed Response posted to our ACS,
the same internal console session an OIDC login ends in; every refusal audited with its rule and
answered with one page; replay refused through the database; single logout both ways."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.db.session import unit_of_work
from dealchat.identity import saml
from dealchat.identity.federated_login import LOGIN_FAILED
from dealchat.identity.models import FederatedIdentity, SamlAssertion, SamlLogin, SamlSession
from dealchat.identity.session_models import AuthSession
from dealchat.settings import SamlSettings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.identity import TestUser, make_user
from tests.saml.fixture import SamlIdp

DANA = "dana"


@dataclasses.dataclass
class Sso:
    platform: Platform
    idp: SamlIdp
    client: TestClient


def saml_platform(
    platform: Platform,
    metadata: Path,
    two_factor: dict[str, list[str]] | None = None,
    **changes: Any,
) -> Platform:
    """SAML on, with the IdP's metadata file; its logins count as two factors for every role
    unless `two_factor` says otherwise (tests/identity/test_strength.py)."""
    settings = SamlSettings(enabled=True, idp_metadata_file=metadata, **changes)
    auth = platform.settings.auth.model_copy(
        update={"federated_two_factor": {"*": ["*"]} if two_factor is None else two_factor}
    )
    updated = platform.settings.model_copy(update={"saml": settings, "auth": auth})
    return dataclasses.replace(platform, settings=updated)


def _app(platform: Platform) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform=platform), raise_server_exceptions=False, base_url="https://testserver"
    ) as client:
        yield client


@pytest.fixture
def sso(
    platform: Platform, tmp_path: Path, saml_idp_factory: Callable[[str], SamlIdp]
) -> Iterator[Sso]:
    """Our SP's metadata fetched from its URL, an IdP started with it, our settings on its file."""
    configured = saml_platform(platform, tmp_path / "idp-0" / "idp.xml")
    for client in _app(configured):
        ours = client.get(saml.METADATA_PATH)
        assert ours.status_code == 200
        assert ours.headers["content-type"].startswith("application/samlmetadata+xml")
        idp = saml_idp_factory(ours.text)
        assert idp.metadata == tmp_path / "idp-0" / "idp.xml"
        yield Sso(configured, idp, client)


def to_idp(client: TestClient, idp: SamlIdp, **knobs: str) -> dict[str, str]:
    """Our login redirect, then the IdP in a browser of its own: the form it posts back."""
    start = client.get(saml.LOGIN_PATH, follow_redirects=False)
    assert start.status_code == 303, start.text
    url = start.headers["location"]
    assert url.startswith(f"{idp.url}/sso?")
    query = parse_qs(urlparse(url).query)
    assert {"SAMLRequest", "RelayState", "SigAlg", "Signature"} <= set(query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    url += "&" + urlencode({"user": DANA, **knobs})
    answer = httpx.get(url, timeout=20)
    assert answer.status_code == 200, answer.text
    return posted_form(answer.text)


def posted_form(page: str) -> dict[str, str]:
    action = re.search(r'<form[^>]*action="([^"]+)"', page)
    assert action is not None, page
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page))
    return {
        "action": html.unescape(action.group(1)),
        **{k: html.unescape(v) for k, v in fields.items()},
    }


def post_acs(client: TestClient, form: dict[str, str]) -> httpx.Response:
    assert urlparse(form["action"]).path == saml.ACS_PATH
    body = {"SAMLResponse": form["SAMLResponse"], "RelayState": form["RelayState"]}
    return client.post(saml.ACS_PATH, data=body, follow_redirects=False)


def link(platform: Platform, idp: SamlIdp, name_id: str, username: str = DANA) -> TestUser:
    user = make_user(platform, username, kind="internal")
    with unit_of_work(platform.sessions) as session:
        session.add(FederatedIdentity(issuer=idp.entity_id, subject=name_id, user_id=user.id))
    return user


def test_metadata_names_our_acs_slo_and_key(sso: Sso) -> None:
    xml = sso.client.get(saml.METADATA_PATH).text
    public = sso.platform.settings.public_url
    assert f'entityID="{public}{saml.METADATA_PATH}"' in xml
    assert f"{public}{saml.ACS_PATH}" in xml
    assert f"{public}{saml.SLO_PATH}" in xml
    assert 'AuthnRequestsSigned="true"' in xml
    assert 'WantAssertionsSigned="true"' in xml
    key = sso.platform.settings.keys_dir / "saml" / "sp.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (key.parent.stat().st_mode & 0o777) == 0o700
    assert sso.client.get(saml.METADATA_PATH).text == xml, "a stable document at a stable URL"


def test_a_linked_internal_user_gets_a_console_session(sso: Sso) -> None:
    dana = link(sso.platform, sso.idp, DANA).id
    done = post_acs(sso.client, to_idp(sso.client, sso.idp))
    assert done.status_code == 200, done.text
    assert 'url=/console/"' in done.text
    assert done.headers["set-cookie"].startswith("__Host-")
    with unit_of_work(sso.platform.sessions) as session:
        row = session.scalars(select(AuthSession)).one()
        assert (row.user_id, row.channel, row.factors) == (dana, "console", "saml,idp-mfa")
    decided = entries(sso.platform, "authn:succeeded")
    assert [(e["rule"], e["user"], e["channel"], e["factors"]) for e in decided] == [
        (f"saml:{sso.idp.entity_id}", dana, "console-saml", ["saml"])
    ]
    home = sso.client.get("/console/", follow_redirects=False)
    assert home.status_code == 200
    assert "Log out" in home.text


def test_match_by_username_and_an_unknown_subject(
    platform: Platform, tmp_path: Path, saml_idp_factory: Callable[[str], SamlIdp]
) -> None:
    by_name = saml_platform(platform, tmp_path / "idp-0" / "idp.xml", match="username")
    for client in _app(by_name):
        idp = saml_idp_factory(client.get(saml.METADATA_PATH).text)
        refused = post_acs(client, to_idp(client, idp))
        assert refused.status_code == 401
        assert entries(by_name, "authn:failed")[-1]["rule"] == "subject-not-a-user"
        make_user(by_name, DANA, kind="internal")
        assert post_acs(client, to_idp(client, idp)).status_code == 200


def test_an_external_user_never_gets_in(sso: Sso) -> None:
    user = make_user(sso.platform, DANA, kind="external")
    with unit_of_work(sso.platform.sessions) as session:
        session.add(FederatedIdentity(issuer=sso.idp.entity_id, subject=DANA, user_id=user.id))
    assert post_acs(sso.client, to_idp(sso.client, sso.idp)).status_code == 401
    assert entries(sso.platform, "authn:failed")[-1]["rule"] == "not-an-internal-user"


@pytest.mark.parametrize(
    ("scenario", "rule"),
    [
        ("unsigned", "saml:signature"),
        ("response-signed-only", "saml:signature"),
        ("audience", "saml:invalid:audience"),
        ("destination", "saml:destination"),
        ("expired", "saml:invalid:conditions"),  # NotOnOrAfter before NotBefore and now
        ("unsolicited", "saml:in-response-to"),
    ],
)
def test_a_bad_response_is_refused_and_audited(sso: Sso, scenario: str, rule: str) -> None:
    link(sso.platform, sso.idp, DANA)
    refused = post_acs(sso.client, to_idp(sso.client, sso.idp, scenario=scenario))
    assert refused.status_code == 401
    assert html.escape(LOGIN_FAILED) in refused.text
    assert "set-cookie" not in refused.headers
    for word in ("signature", "audience", "destination", "expired", "InResponseTo", scenario):
        assert word.lower() not in refused.text.lower(), "the page never says which check failed"
    failed = entries(sso.platform, "authn:failed")
    assert [(e["rule"], e["channel"]) for e in failed] == [(rule, "console-saml")]
    with unit_of_work(sso.platform.sessions) as session:
        assert session.scalars(select(AuthSession)).all() == []


def test_an_assertion_past_its_not_on_or_after_is_refused(sso: Sso, clock: Clock) -> None:
    """The IdP gives 5 minutes, we allow 60 s of skew: at 7 minutes the assertion is too old
    (by our clock; the relay state lives 10 minutes)."""
    link(sso.platform, sso.idp, DANA)
    form = to_idp(sso.client, sso.idp)
    clock.advance(7 * 60)
    assert post_acs(sso.client, form).status_code == 401
    rules = [e["rule"] for e in entries(sso.platform, "authn:failed")]
    assert rules == ["saml:expired-or-not-yet-valid"]
    clock.advance(-7 * 60 - 120)  # and 2 minutes before it was issued: not yet valid
    assert post_acs(sso.client, to_idp(sso.client, sso.idp)).status_code == 401
    assert entries(sso.platform, "authn:failed")[-1]["rule"] == "saml:expired-or-not-yet-valid"


def test_a_replayed_assertion_is_refused_across_workers(sso: Sso) -> None:
    link(sso.platform, sso.idp, DANA)
    form = to_idp(sso.client, sso.idp)
    assert post_acs(sso.client, form).status_code == 200
    assert post_acs(sso.client, form).status_code == 401
    # another worker (its own app, its own SP instance), the same database
    for other in _app(sso.platform):
        assert post_acs(other, form).status_code == 401
    rules = [e["rule"] for e in entries(sso.platform, "authn:failed")]
    assert rules == ["saml:assertion-replayed", "saml:assertion-replayed"]
    with unit_of_work(sso.platform.sessions) as session:
        assert len(session.scalars(select(SamlAssertion)).all()) == 1
        assert len(session.scalars(select(AuthSession)).all()) == 1


def test_a_forged_or_missing_relay_state_is_refused(sso: Sso) -> None:
    link(sso.platform, sso.idp, DANA)
    form = to_idp(sso.client, sso.idp)
    assert post_acs(sso.client, {**form, "RelayState": "x" + form["RelayState"]}).status_code == 401
    assert sso.client.post(saml.ACS_PATH, data={"RelayState": "x"}).status_code == 401
    rules = [e["rule"] for e in entries(sso.platform, "authn:failed")]
    assert rules == ["saml:relay-state-unknown-or-expired", "saml:missing-response-or-relay-state"]
    with unit_of_work(sso.platform.sessions) as session:
        assert session.scalars(select(SamlLogin.used_at)).one() is None


def test_console_logout_is_single_logout_at_the_idp(sso: Sso) -> None:
    link(sso.platform, sso.idp, DANA)
    assert post_acs(sso.client, to_idp(sso.client, sso.idp)).status_code == 200
    home = sso.client.get("/console/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    out = sso.client.post(
        "/console/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert out.status_code == 200
    found = re.search(r'content="0;url=([^"]+)"', out.text)
    assert found is not None
    url = html.unescape(found.group(1))
    assert url.startswith(f"{sso.idp.url}/slo?")
    assert "Signature=" in url
    with unit_of_work(sso.platform.sessions) as session:
        assert session.scalars(select(AuthSession.revoke_reason)).one() == "logout"
    answer = httpx.get(url, timeout=20, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    asked = httpx.get(f"{sso.idp.url}/slo/last", timeout=20).json()
    assert asked["requested"]
    assert asked["signed"]
    assert asked["name_id"] == DANA
    assert asked["session_index"], "the IdP session the console session came from"
    back = urlparse(answer.headers["location"])
    assert back.path == saml.SLO_PATH
    done = sso.client.get(f"{back.path}?{back.query}")
    assert done.status_code == 200
    assert "You are logged out." in done.text


def test_logout_names_the_idp_session_this_console_session_came_from(sso: Sso) -> None:
    """dana in two browsers: logging out of the first asks the IdP to end the first's session."""
    link(sso.platform, sso.idp, DANA)
    assert post_acs(sso.client, to_idp(sso.client, sso.idp)).status_code == 200
    for second in _app(sso.platform):
        assert post_acs(second, to_idp(second, sso.idp)).status_code == 200
    with unit_of_work(sso.platform.sessions) as session:
        first = session.scalars(select(SamlSession).order_by(SamlSession.created_at)).first()
        assert first is not None
        indexes = {row.session_index for row in session.scalars(select(SamlSession))}
    assert len(indexes) == 2
    home = sso.client.get("/console/")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert csrf is not None
    out = sso.client.post("/console/logout", data={"csrf_token": csrf.group(1)})
    found = re.search(r'content="0;url=([^"]+)"', out.text)
    assert found is not None
    assert httpx.get(html.unescape(found.group(1)), timeout=20).status_code in {200, 303}
    asked = httpx.get(f"{sso.idp.url}/slo/last", timeout=20).json()
    assert asked["session_index"] == [first.session_index]


def test_idp_initiated_logout_ends_the_console_session(sso: Sso) -> None:
    link(sso.platform, sso.idp, DANA)
    assert post_acs(sso.client, to_idp(sso.client, sso.idp)).status_code == 200
    start = httpx.get(f"{sso.idp.url}/logout?user={DANA}", timeout=20, follow_redirects=False)
    assert start.status_code == 303, start.text
    request = urlparse(start.headers["location"])
    assert request.path == saml.SLO_PATH
    answered = sso.client.get(f"{request.path}?{request.query}", follow_redirects=False)
    assert answered.status_code == 303
    with unit_of_work(sso.platform.sessions) as session:
        assert session.scalars(select(AuthSession.revoke_reason)).one() == "saml single logout"
    assert sso.client.get("/console/", follow_redirects=False).status_code in {303, 401}
    httpx.get(urljoin(sso.idp.url, answered.headers["location"]), timeout=20)
    assert httpx.get(f"{sso.idp.url}/slo/last", timeout=20).json() == {
        "answered": True,
        "success": True,
        "signed": True,
    }
    # an unsigned LogoutRequest is refused and audited
    unsigned = re.sub(r"&(SigAlg|Signature)=[^&]*", "", request.query)
    assert sso.client.get(f"{request.path}?{unsigned}").status_code == 400
    assert entries(sso.platform, "authn:failed")[-1]["rule"] == "saml:logout-unsigned"


def _assertion_of(xml: str) -> re.Match[str]:
    found = re.search(r"<(\w+:)?Assertion\b.*?</\1Assertion>", xml, re.S)
    assert found is not None, xml
    return found


def _as_eve(assertion: str, *, keep_signature: bool) -> str:
    """The signed assertion rewritten to say eve, under a new ID; its signature kept or not."""
    evil = assertion.replace(f">{DANA}<", ">eve<")
    evil = re.sub(r'\bID="[^"]+"', 'ID="_evil0123456789abcdef"', evil, count=1)
    if not keep_signature:
        evil = re.sub(r"<(\w+:)?Signature\b.*?</\1Signature>", "", evil, flags=re.S)
    return evil


def _wrapped(xml: str, how: str) -> str:
    found = _assertion_of(xml)
    original = found.group(0)
    prefix = found.group(1) or ""
    if how == "second-unsigned-assertion-first":
        replaced = _as_eve(original, keep_signature=False) + original
    elif how == "signed-one-hidden-in-advice":
        evil = _as_eve(original, keep_signature=True)
        advice = f"<{prefix}Advice>{original}</{prefix}Advice>"
        replaced = re.sub(rf"(</{prefix}Conditions>)", lambda m: m.group(1) + advice, evil, count=1)
    else:  # "signed-content-changed": the signature stays, the name in it does not
        replaced = original.replace(f">{DANA}<", ">eve<")
    assert replaced != original
    return xml[: found.start()] + replaced + xml[found.end() :]


@pytest.mark.parametrize(
    ("how", "rule"),
    [
        ("second-unsigned-assertion-first", "saml:invalid:InvalidAssertion"),  # two assertions
        ("signed-one-hidden-in-advice", "saml:signature"),  # the reference is not the assertion
        ("signed-content-changed", "saml:signature"),  # the digest no longer matches
    ],
)
def test_xml_signature_wrapping_is_refused(sso: Sso, how: str, rule: str) -> None:
    """A real signed Response for dana, rewritten so an assertion for eve is what a careless
    SP would read: eve never gets in, and the refusal is audited."""
    link(sso.platform, sso.idp, DANA)
    eve = link(sso.platform, sso.idp, "eve", username="eve")
    form = to_idp(sso.client, sso.idp)
    xml = base64.b64decode(form["SAMLResponse"]).decode("utf-8")
    forged = base64.b64encode(_wrapped(xml, how).encode("utf-8")).decode("ascii")
    refused = post_acs(sso.client, {**form, "SAMLResponse": forged})
    assert refused.status_code == 401
    [failed] = entries(sso.platform, "authn:failed")
    assert failed["rule"] == rule
    with unit_of_work(sso.platform.sessions) as session:
        assert session.scalars(select(AuthSession)).all() == []
    assert entries(sso.platform, "authn:succeeded") == [], f"{eve.username} never got in"
