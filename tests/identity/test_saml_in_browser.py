"""SAML single sign-on as a person does it, in real headless Chromium (Debian's, driven by
Playwright): the console's login page, the link to the bank's IdP (pysaml2's own IdP in its own
process), its sign-in form, its auto-posting Response form, our ACS, the console; then console
logout through the IdP's single logout and back. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from dealchat.api.deps import Platform
from dealchat.db.session import unit_of_work
from dealchat.identity import saml
from dealchat.identity.session_models import AuthSession
from tests.channels.webchat.test_page_in_browser import browser  # noqa: F401 - the fixture
from tests.factories.audit import entries
from tests.factories.live import served
from tests.identity.test_saml import DANA, link, saml_platform
from tests.saml.fixture import SamlIdp

WAIT = 15_000  # ms
MULTI_FACTOR = "urn:oasis:names:tc:SAML:2.0:ac:classes:MultiFactor"


@contextmanager
def _serve(
    database_url: str,
    tmp_path: Path,
    start_idp: Callable[..., SamlIdp],
    two_factor: dict[str, list[str]] | None,
) -> Iterator[tuple[str, Platform, SamlIdp]]:
    metadata = tmp_path / "idp-0" / "idp.xml"

    def with_saml(platform: Platform) -> Platform:
        return saml_platform(platform, metadata, two_factor=two_factor)

    with served(database_url, tmp_path / "var", changed=with_saml) as (url, platform):
        ours = httpx.get(f"{url}{saml.METADATA_PATH}", timeout=20)
        assert ours.status_code == 200
        # the IdP on "localhost", we on 127.0.0.1: two sites, as a bank's IdP and dealchat are, so
        # the browser applies SameSite to the cross-site POST and the redirects after it
        yield url, platform, start_idp(ours.text, "localhost")


@pytest.fixture
def live(
    database_url: str, tmp_path: Path, saml_idp_factory: Callable[[str], SamlIdp]
) -> Iterator[tuple[str, Platform, SamlIdp]]:
    """Served with SAML; the IdP's logins count as two factors."""
    with _serve(database_url, tmp_path, saml_idp_factory, None) as found:
        yield found


@pytest.fixture
def live_one_factor(
    database_url: str, tmp_path: Path, saml_idp_factory: Callable[[str], SamlIdp]
) -> Iterator[tuple[str, Platform, SamlIdp]]:
    """Served with SAML; only the IdP's MultiFactor class counts as two factors."""
    with _serve(database_url, tmp_path, saml_idp_factory, {"*": [MULTI_FACTOR]}) as found:
        yield found


def test_single_sign_on_and_single_logout_in_chromium(
    browser: Browser,  # noqa: F811 - the fixture
    live: tuple[str, Platform, SamlIdp],
) -> None:
    url, platform, idp = live
    dana = link(platform, idp, DANA).id
    page = browser.new_context(base_url=url).new_page()
    page.goto("/console/login")
    page.get_by_role("link", name="Log in with your bank account (single sign-on)").click()
    expect(page.get_by_role("heading", name="test IdP")).to_be_visible(timeout=WAIT)
    assert page.url.startswith(f"{idp.url}/sso?")
    page.fill("input[name=user]", DANA)
    page.get_by_role("button", name="Sign in at the IdP").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=WAIT)
    assert page.url == f"{url}/console/"
    with unit_of_work(platform.sessions) as session:
        row = session.scalars(select(AuthSession)).one()
        assert (row.user_id, row.factors) == (dana, "saml,idp-mfa")
    assert [e["rule"] for e in entries(platform, "authn:succeeded")] == [f"saml:{idp.entity_id}"]
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("You are logged out.")).to_be_visible(timeout=WAIT)
    assert page.url.startswith(f"{url}{saml.SLO_PATH}?")
    asked = httpx.get(f"{idp.url}/slo/last", timeout=20).json()
    assert asked["requested"]
    assert asked["name_id"] == DANA
    with unit_of_work(platform.sessions) as session:
        assert session.scalars(select(AuthSession.revoke_reason)).one() == "logout"
    page.goto("/console/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=WAIT)


def test_a_one_factor_idp_login_asks_for_our_code_in_chromium(
    browser: Browser,  # noqa: F811 - the fixture
    live_one_factor: tuple[str, Platform, SamlIdp],
) -> None:
    """The IdP says PasswordProtectedTransport; the setting wants MultiFactor: our own code."""
    url, platform, idp = live_one_factor
    dana = link(platform, idp, DANA)
    page = browser.new_context(base_url=url).new_page()
    page.goto("/console/login")
    page.get_by_role("link", name="Log in with your bank account (single sign-on)").click()
    page.fill("input[name=user]", DANA)
    page.get_by_role("button", name="Sign in at the IdP").click()
    expect(page.get_by_role("heading", name="One more step")).to_be_visible(timeout=WAIT)
    page.goto("/console/")  # not a login yet
    expect(page.get_by_role("button", name="Log in")).to_be_visible(timeout=WAIT)
    page.go_back()
    page.fill("input[name=otp]", "000000" if dana.code(time.time()) != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_be_visible(timeout=WAIT)
    page.fill("input[name=otp]", dana.code(time.time()))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible(timeout=WAIT)
    with unit_of_work(platform.sessions) as session:
        live = session.scalars(select(AuthSession).where(AuthSession.revoked_at.is_(None))).one()
        assert (live.user_id, live.channel, live.factors) == (dana.id, "console", "saml,totp")
    rules = [e["rule"] for e in entries(platform, "authn:succeeded", "authn:failed")]
    assert rules == [f"saml:{idp.entity_id}:needs-second-factor", "wrong-otp", "saml+totp"]
