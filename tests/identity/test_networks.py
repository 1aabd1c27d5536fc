"""Trusted networks waive the second factor for internal users only, never for external users and
never for a confirmation; the client address comes from the trusted-proxy chain, and a spoofed
X-Forwarded-For does not pass. Ranges are IPv4 or IPv6, managed by the CLI."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.errors import DealchatError
from dealchat.identity import login, networks
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user
from tests.identity.test_lockout import SMALL

OFFICE_V4 = "10.20.0.0/16"
OFFICE_V6 = "2001:db8:aa::/48"
PROXY = "172.16.0.10"


def _trust(platform: Platform, clock: Clock, *cidrs: str) -> None:
    with unit_of_work(platform.sessions) as session:
        for cidr in cidrs:
            networks.add(session, cidr=cidr, label="office", actor="test", now=clock.now)


def _no_code(
    platform: Platform, clock: Clock, user: TestUser, ip: str, purpose: str = "login"
) -> login.Outcome:
    with unit_of_work(platform.sessions) as session:
        attempt = login.Attempt(user.username, user.password, "", "console", ip, purpose=purpose)
        return login.decide(
            session, sealer=platform.desk.sealer, attempt=attempt, policy=SMALL, now=clock.now
        )


def test_an_internal_user_on_a_trusted_network_needs_no_second_factor(
    platform: Platform, clock: Clock
) -> None:
    dealer = make_user(platform, "dealer", kind="internal")
    _trust(platform, clock, OFFICE_V4, OFFICE_V6)
    for ip in ("10.20.3.4", "2001:db8:aa:5::1"):
        outcome = _no_code(platform, clock, dealer, ip)
        assert outcome.ok
        assert outcome.factors == ("password", "network")
    assert [e["rule"] for e in entries(platform, "authn:succeeded")] == [
        f"trusted-network:{OFFICE_V4}",
        f"trusted-network:{OFFICE_V6}",
    ]
    assert not _no_code(platform, clock, dealer, "10.21.0.1").ok, "outside the range"
    assert not _no_code(platform, clock, dealer, "2001:db8:ab::1").ok


def test_never_for_an_external_user_nor_a_confirmation(platform: Platform, clock: Clock) -> None:
    client_user = make_user(platform, "alice", kind="external")
    dealer = make_user(platform, "dealer", kind="internal")
    _trust(platform, clock, OFFICE_V4)
    refused = _no_code(platform, clock, client_user, "10.20.3.4")
    assert not refused.ok
    assert refused.rule == "wrong-otp"
    confirm = _no_code(platform, clock, dealer, "10.20.3.4", purpose="stepup")
    assert not confirm.ok
    assert confirm.rule == "wrong-otp"


def test_ranges_are_checked_and_managed(platform: Platform, clock: Clock) -> None:
    with unit_of_work(platform.sessions) as session:
        for bad in ("10.0.0.0/33", "not-a-network", "0.0.0.0/0", "::/0"):
            with pytest.raises(DealchatError):
                networks.add(session, cidr=bad, label="x", actor="t", now=clock.now)
    _trust(platform, clock, "10.20.1.7/16")
    with unit_of_work(platform.sessions) as session:
        assert [row.cidr for row in networks.listed(session)] == ["10.20.0.0/16"]
        with pytest.raises(DealchatError, match="already"):
            networks.add(session, cidr="10.20.0.0/16", label="x", actor="t", now=clock.now)
    with unit_of_work(platform.sessions) as session:
        networks.remove(session, cidr="10.20.0.0/16", actor="t")
    with unit_of_work(platform.sessions) as session:
        assert networks.listed(session) == []
        assert networks.trusted_range(session, "10.20.0.1") is None


def test_cli_networks(
    platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    runner = CliRunner()
    added = runner.invoke(app, ["networks", "add", OFFICE_V6, "--label", "London office"])
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["networks", "add", "10.20.0.0/16"]).exit_code == 0
    assert runner.invoke(app, ["networks", "add", "300.1.1.1/8"]).exit_code == 2
    listed = runner.invoke(app, ["networks", "list"])
    assert OFFICE_V6 in listed.output
    assert "London office" in listed.output
    assert "10.20.0.0/16" in listed.output
    assert runner.invoke(app, ["networks", "remove", OFFICE_V6]).exit_code == 0
    assert OFFICE_V6 not in runner.invoke(app, ["networks", "list"]).output
    assert runner.invoke(app, ["networks", "remove", OFFICE_V6]).exit_code == 2
    assert [e["cidr"] for e in entries(platform, "network:trusted")] == [OFFICE_V6, "10.20.0.0/16"]
    assert [e["cidr"] for e in entries(platform, "network:untrusted")] == [OFFICE_V6]


@pytest.fixture
def proxied(platform: Platform) -> Platform:
    """The platform behind our reverse proxy (172.16.0.0/24)."""
    auth = platform.settings.auth.model_copy(update={"trusted_proxies": ["172.16.0.0/24"]})
    return dataclasses.replace(
        platform, settings=platform.settings.model_copy(update={"auth": auth})
    )


def _client(platform: Platform, peer: str) -> Iterator[TestClient]:
    with TestClient(
        create_app(platform=platform), raise_server_exceptions=False, client=(peer, 40000)
    ) as client:
        yield client


@pytest.fixture
def via_proxy(proxied: Platform) -> Iterator[TestClient]:
    yield from _client(proxied, PROXY)


@pytest.fixture
def direct(proxied: Platform) -> Iterator[TestClient]:
    yield from _client(proxied, "198.51.100.77")


_SENDERS = itertools.count(1)  # a fresh chat each time: one live link per chat


def _link_log_in(client: TestClient, clock: Clock, user: TestUser, xff: str | None) -> int:
    chat = Chat(client, clock, sender=f"sender-{user.username}-{next(_SENDERS)}")
    path = chat.link("login")
    headers = {"X-Forwarded-For": xff} if xff else {}
    form = {"username": user.username, "password": user.password, "otp": ""}
    return client.post(path, data=form, headers=headers).status_code


def test_through_the_trusted_proxy_the_forwarded_address_counts(
    via_proxy: TestClient, proxied: Platform, clock: Clock
) -> None:
    dealer = make_user(proxied, "dealer", kind="internal")
    _trust(proxied, clock, OFFICE_V4)
    # the client claims to be in the office; our proxy appended what it saw: the office
    assert _link_log_in(via_proxy, clock, dealer, "6.6.6.6, 10.20.9.9") == 200
    succeeded = entries(proxied, "authn:succeeded")
    assert [(e["source_ip"], e["factors"]) for e in succeeded] == [
        ("10.20.9.9", ["password", "network"])
    ]


def test_a_spoofed_forwarded_for_does_not_pass(
    via_proxy: TestClient, direct: TestClient, proxied: Platform, clock: Clock
) -> None:
    dealer = make_user(proxied, "dealer", kind="internal")
    _trust(proxied, clock, OFFICE_V4)
    # straight to the server, not through our proxy: the header is the client's own words
    assert _link_log_in(direct, clock, dealer, "10.20.9.9") == 401
    # through our proxy, the client wrote the office address first; the proxy saw the outside
    assert _link_log_in(via_proxy, clock, dealer, "10.20.9.9, 203.0.113.50") == 401
    failed = entries(proxied, "authn:failed")
    assert [e["source_ip"] for e in failed] == ["198.51.100.77", "203.0.113.50"]
