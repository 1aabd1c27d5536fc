"""Spent security rows (secure links, step-up proofs, SMS challenges, TOTP enrolments, report
and receipt links, console sessions) are deleted by `dealchat retention run` once the grace
(`DEALCHAT_RETENTION__SPENT_ROWS_DAYS`, 30 days) has passed since they expired: counted in the
report and the run's one audit entry, and a client's audit report still finds the link that
linked her chat, through the log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.conversations import reporting
from dealchat.db.session import unit_of_work
from dealchat.identity import accounts, enrolment, sms
from dealchat.identity.models import (
    OidcLogin,
    SamlAssertion,
    SamlLogin,
    SamlSession,
    SecureLink,
    SmsChallenge,
    StepUpProof,
    TotpEnrolment,
    User,
)
from dealchat.identity.session_models import AuthSession
from dealchat.records import reports_links
from dealchat.records.reports_models import ReportLink
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.console.test_console import _log_in
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user
from tests.factories.retention import run_retention

TABLES = {
    "secure_links": SecureLink,
    "stepup_proofs": StepUpProof,
    "sms_challenges": SmsChallenge,
    "totp_enrolments": TotpEnrolment,
    "report_links": ReportLink,
    "console_sessions": AuthSession,
    "oidc_logins": OidcLogin,
    "saml_logins": SamlLogin,
    "saml_assertions": SamlAssertion,
    "saml_sessions": SamlSession,
}


def _counts(platform: Platform) -> dict[str, int]:
    with unit_of_work(platform.sessions) as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in TABLES.items()
        }


def _security_rows(platform: Platform, clock: Clock, fay: TestUser) -> None:
    """An SMS code, an authenticator enrolment, a receipt link, a step-up proof for fay, an
    OIDC login and a SAML login that were never finished, a seen SAML assertion and a SAML
    session's link to its IdP session."""
    with unit_of_work(platform.sessions) as session:
        accounts.set_phone(session, username=fay.username, phone="+447700900456", actor="t")
        user = session.get_one(User, fay.id)
        sms.send_code(
            session, sealer=platform.desk.sealer, sms=sms.CapturingSms(), user=user, now=clock.now
        )
        enrolment.begin(
            session,
            sealer=platform.desk.sealer,
            username=fay.username,
            issuer="dealchat",
            actor="t",
            now=clock.now,
        )
        reports_links.issue(
            session,
            user_id=fay.id,
            params={"order": "o-1"},
            ttl=dt.timedelta(days=7),
            now=clock.now,
            actor="t",
            purpose="receipt",
        )
        session.add(
            StepUpProof(
                channel="webchat",
                external_id="sender-fay-00001",
                user_id=fay.id,
                ticket_hash="0" * 64,
                granted_at=clock.now,
                expires_at=clock.now + dt.timedelta(minutes=5),
            )
        )
        session.add(
            OidcLogin(
                state_hash="1" * 64,
                nonce="n" * 32,
                verifier_sealed="sealed",
                created_at=clock.now,
                expires_at=clock.now + dt.timedelta(minutes=10),
            )
        )
        session.add(
            SamlLogin(
                relay_state_hash="2" * 64,
                request_id="_r" + "0" * 32,
                idp="https://idp.bank.test/metadata",
                created_at=clock.now,
                expires_at=clock.now + dt.timedelta(minutes=10),
            )
        )
        session.add(
            SamlAssertion(
                assertion_hash="3" * 64,
                idp="https://idp.bank.test/metadata",
                seen_at=clock.now,
                expires_at=clock.now + dt.timedelta(minutes=6),
            )
        )
        session.add(
            SamlSession(
                auth_session_id="4" * 32,
                user_id=fay.id,
                idp="https://idp.bank.test/metadata",
                subject_hash="5" * 64,
                name_id_sealed="sealed",
                session_index="_s1",
                expires_at=clock.now + dt.timedelta(hours=12),
            )
        )


def _day(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    fay = make_user(platform, "fay.s")
    Chat(client, clock, conversation="conv-spent-1", sender="sender-fay-00001").link_and_log_in(fay)
    Chat(client, clock, conversation="conv-spent-2", sender="sender-other-01").link("login")
    _security_rows(platform, clock, fay)
    gina = make_user(platform, "gina.k", kind="internal")
    app = create_app(platform=platform)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as browser:
        assert _log_in(browser, gina, clock).status_code == 303  # type: ignore[attr-defined]
    return {"fay": fay.id, "start": clock.now}


def _report_events(platform: Platform, client_id: str) -> set[tuple[str, str]]:
    """(event, subject kind) of every entry in the client's audit report."""
    with unit_of_work(platform.sessions) as session:
        report = reporting.build(session, platform.desk, start=None, end=None, client=client_id)
        return {(entry.event, entry.subject.partition(":")[0]) for entry in report.entries}


def test_spent_rows_go_after_the_grace_and_reports_still_find_the_link(
    client: TestClient, platform: Platform, settings: Settings, clock: Clock
) -> None:
    day = _day(client, platform, clock)
    assert _counts(platform) == _counts_before()
    linked = _report_events(platform, day["fay"])
    assert {("link:issued", "link"), ("link:completed", "link")} <= linked
    assert ("identity:linked", "chat-identity") in linked
    soon = run_retention(platform, settings, day["start"] + dt.timedelta(days=20))
    assert all(soon["purged"][name] == 0 for name in TABLES)
    assert _counts(platform) == _counts_before()
    later = run_retention(platform, settings, day["start"] + dt.timedelta(days=40))
    assert {name: later["purged"][name] for name in TABLES} == _counts_before()
    assert _counts(platform) == dict.fromkeys(TABLES, 0)
    assert [run["purged"] for run in entries(platform, "retention:run")] == [
        soon["purged"],
        later["purged"],
    ]
    assert _report_events(platform, day["fay"]) == linked  # found through the log now
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def _counts_before() -> dict[str, int]:
    """One row each; two secure links: fay's (used) and another sender's (never used)."""
    return dict.fromkeys(TABLES, 1) | {"secure_links": 2}
