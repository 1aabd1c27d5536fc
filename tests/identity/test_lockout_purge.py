"""Lockout rows hold a source address only while the window needs it: `lockout.purge` (run by
`dealchat retention run`) deletes rows past their window, keeps those a running delay or a
recent failure still needs, and the run reports and audits how many went in one entry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.identity import lockout
from dealchat.identity.models import LoginSource
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.audit import entries
from tests.factories.identity import make_user
from tests.identity.test_lockout import SMALL, attempt

WINDOW = SMALL.source_window  # one hour
PURGED = (  # what `retention run` reports under "purged", by table or identifier
    "login_sources",
    "secure_links",
    "stepup_proofs",
    "sms_challenges",
    "totp_enrolments",
    "oidc_logins",
    "saml_logins",
    "saml_assertions",
    "saml_sessions",
    "console_sessions",
    "report_links",
    "rate_windows",
    "message_senders",
    "conversation_addresses",
    "chat_identities",
)


def _sources(platform: Platform) -> dict[str, int]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(LoginSource))
        return {row.source: row.failures for row in rows}


def _purge(platform: Platform, policy: lockout.LockoutPolicy, now: dt.datetime) -> int:
    with unit_of_work(platform.sessions) as session:
        return lockout.purge(session, policy=policy, now=now)


def test_rows_past_their_window_go_and_recent_ones_stay(platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    start = clock.now
    assert not attempt(platform, clock, alice, password="wrong password!", ip="198.51.100.1")
    clock.advance(30 * 60)
    assert not attempt(platform, clock, alice, password="wrong password!", ip="198.51.100.2")
    clock.advance(10)  # past the account's delay
    assert attempt(platform, clock, alice, ip="198.51.100.3")  # a success: a row, no failure
    assert _sources(platform) == {"198.51.100.1": 1, "198.51.100.2": 1, "198.51.100.3": 0}

    assert _purge(platform, SMALL, start + WINDOW) == 1  # exactly a window old: still counts
    assert set(_sources(platform)) == {"198.51.100.1", "198.51.100.2"}
    assert _purge(platform, SMALL, start + WINDOW + dt.timedelta(seconds=1)) == 1
    assert set(_sources(platform)) == {"198.51.100.2"}
    assert _purge(platform, SMALL, clock.now + WINDOW + dt.timedelta(seconds=1)) == 1
    assert _sources(platform) == {}


def test_a_running_delay_keeps_its_row_past_the_window(platform: Platform, clock: Clock) -> None:
    """A row whose delay still runs is kept even past the window (a short window, a long cap)."""
    policy = dataclasses.replace(
        SMALL,
        source_free_failures=1,
        source_base_delay=dt.timedelta(hours=3),
        source_max_delay=dt.timedelta(hours=3),
    )
    alice = make_user(platform)
    assert not attempt(platform, clock, alice, password="wrong!", ip="192.0.2.9", policy=policy)
    assert not attempt(platform, clock, alice, ip="192.0.2.9", policy=policy), "delayed"
    assert _purge(platform, policy, clock.now + 2 * WINDOW) == 0
    assert _purge(platform, policy, clock.now + dt.timedelta(hours=3)) == 1
    assert _sources(platform) == {}


def test_an_attempt_after_a_purge_starts_a_fresh_row(platform: Platform, clock: Clock) -> None:
    alice = make_user(platform)
    for _ in range(2):
        assert not attempt(platform, clock, alice, password="wrong password!", ip="2001:db8::1")
    clock.advance(WINDOW.total_seconds() + 1)
    assert _purge(platform, SMALL, clock.now) == 1
    assert not attempt(platform, clock, alice, password="wrong password!", ip="2001:db8::2")
    assert _sources(platform) == {"2001:db8::/64": 1}


def test_retention_run_purges_reports_and_audits_once(
    platform: Platform, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dealchat retention run` with the default window (60 minutes): the count is in its JSON
    and in its one retention:run entry, no entry per row, no address in the log."""
    alice = make_user(platform)
    for number in range(3):
        assert not attempt(platform, clock, alice, password="wrong!", ip=f"203.0.113.{number}")
        clock.advance(10)  # past the account's delay, so each failure is tested and counted
    assert _sources(platform) == {"203.0.113.0": 1, "203.0.113.1": 1, "203.0.113.2": 1}
    clock.advance(-10)
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)

    def run(now: dt.datetime) -> dict[str, object]:
        result = CliRunner().invoke(app, ["retention", "run", "--now", now.isoformat()])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.output))

    first = run(clock.now + dt.timedelta(minutes=59))["purged"]
    assert first == dict.fromkeys(PURGED, 0)  # every sweep reports, nothing else was due
    assert len(_sources(platform)) == 3
    assert run(clock.now + dt.timedelta(minutes=61))["purged"]["login_sources"] == 3
    assert _sources(platform) == {}
    runs = entries(platform, "retention:run")
    assert [entry["purged"]["login_sources"] for entry in runs] == [0, 3]
    assert all("203.0.113" not in json.dumps(entry) for entry in runs)
