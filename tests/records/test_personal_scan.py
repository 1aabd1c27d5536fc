"""A personal-data scan of the audit log and of the operational tables. After a realistic day
(a client links a WhatsApp number, fails a login, logs in, trades with step-up, gets SMS codes,
writes from the web chat and from Matrix giving her e-mail address; an internal user gets a role,
fails and then passes the console login and exports a report), no entry's actor, subject or clear
payload holds a phone number, chat handle, username, e-mail address or source address used that
day. Sealed details are not clear text, and retention erases them (records.personal): past every
retention period, opening every entry's seal finds nothing personal either, and the log still
verifies. Past every period, the operational tables (conversations, messages, chat identities,
links, sessions, challenges...) hold none of them in clear either, but for the open account's own
record and what a legal hold keeps."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session

from dealchat.access import service as access
from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.channels.interfaces import InboundMessage
from dealchat.conversations.desk import handle_inbound
from dealchat.conversations.holds import scopes_for_hold
from dealchat.conversations.models import Conversation
from dealchat.db.base import Base
from dealchat.db.session import unit_of_work
from dealchat.identity import accounts, sms
from dealchat.identity.models import User
from dealchat.records import retention
from dealchat.records.models import AuditEntry
from dealchat.records.personal import reveal
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.console.test_console import _log_in
from tests.factories.access import give_role, token_for
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user
from tests.factories.retention import run_retention

PHONE = "+447700900123"  # the client's WhatsApp number and SMS phone
WA_ID = PHONE.removeprefix("+")  # how WhatsApp names the sender
WEB_ID = "quinta-web-7731"  # the client's web chat handle
MATRIX_ID = "@quinta.q:example.com"  # and her Matrix id
EMAIL = "quinta.q@example.com"  # written in a message (bodies are sealed, never in clear)
CLIENT = "quinta.client"
STAFF = "ulrich.desk"
ADDRESS = "198.51.100.23"  # where every browser request comes from
PERSONAL = (PHONE, WA_ID, WEB_ID, MATRIX_ID, EMAIL, CLIENT, STAFF, ADDRESS)

# Things that must stay in clear although they match a term above, each with why. Keep it empty
# unless a regulator or the log's integrity needs one: (event, term) pairs.
ALLOWED: frozenset[tuple[str, str]] = frozenset()

# Operational columns that keep a term past every retention period, each with why: (table.column,
# term). The client's account is open: its username and the phone her SMS codes go to are the
# account's own record, kept while the relationship lasts (closing accounts is not retention's).
ACCOUNT_KEPT: frozenset[tuple[str, str]] = frozenset(
    {
        ("user_account.username", CLIENT),
        ("user_account.username", STAFF),
        ("user_account.sms_phone", PHONE),
        ("user_account.sms_phone", WA_ID),  # the same number without its +
    }
)


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    app = create_app(platform=platform)
    with TestClient(
        app,
        base_url="https://testserver",
        raise_server_exceptions=False,
        follow_redirects=False,
        client=(ADDRESS, 50123),
    ) as test_client:
        yield test_client


def _whatsapp(platform: Platform, text: str, mid: str, *, sender: str = WA_ID) -> list[Any]:
    channel = "matrix" if sender == MATRIX_ID else "whatsapp"
    message = InboundMessage(channel, f"room-{sender}", sender, f"wamid.{mid}", text)
    with unit_of_work(platform.sessions) as session:
        return handle_inbound(session, message=message, desk=platform.desk)


def _link(platform: Platform, text: str, mid: str) -> str:
    replies = _whatsapp(platform, text, mid)
    assert replies[0].link, replies
    return urlparse(replies[0].link).path


def _form(browser: TestClient, path: str, user: TestUser, otp: str) -> int:
    form = {"username": user.username, "password": user.password, "otp": otp}
    return browser.post(path, data=form).status_code


def _client_day(platform: Platform, browser: TestClient, clock: Clock, quinta: TestUser) -> None:
    login = _link(platform, "mkt eurusd 1m", "m1")
    assert _form(browser, login, quinta, "000000") == 401  # a failed login on the link
    assert _form(browser, login, quinta, quinta.code(clock.now.timestamp())) == 200
    clock.advance(30)
    assert _whatsapp(platform, "buy 1m eurusd 1W 360t", "m2")[0].text.startswith("TO CONFIRM")
    approve = _link(platform, "c", "m3")
    assert _form(browser, approve, quinta, quinta.code(clock.now.timestamp())) == 200
    clock.advance(30)
    assert _whatsapp(platform, "c", "m4")[0].text.startswith("FILLED")
    _sms_codes(platform, clock)
    Chat(browser, clock, conversation="conv-scan-web", sender=WEB_ID).say("hello")
    _whatsapp(platform, f"hello, write to me at {EMAIL}", "m5", sender=MATRIX_ID)


def _sms_codes(platform: Platform, clock: Clock) -> None:
    """The client's phone is set, a code is sent to it, a wrong code and then the right one."""
    phone = sms.CapturingSms()
    sealer = platform.desk.sealer
    with unit_of_work(platform.sessions) as session:
        accounts.set_phone(session, username=CLIENT, phone=PHONE, actor="test")
        user = session.scalars(select(User).where(User.username == CLIENT)).one()
        challenge = sms.send_code(session, sealer=sealer, sms=phone, user=user, now=clock.now)
        user_id = user.id
    code = phone.last_code(PHONE)
    for tried, expected in (("000000" if code != "000000" else "111111", False), (code, True)):
        with unit_of_work(platform.sessions) as session:
            checked = sms.check_code(
                session,
                sealer=sealer,
                challenge_id=challenge,
                user_id=user_id,
                code=tried,
                now=clock.now,
            )
        assert checked is expected


def _staff_day(platform: Platform, browser: TestClient, clock: Clock) -> None:
    ulrich = make_user(platform, STAFF, kind="internal")
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        access.assign(session, actor=access.system_actor(), role="compliance", username=STAFF)
    give_role(platform, STAFF, "exporter", [Right.AUDIT_EXPORT])
    assert _log_in(browser, ulrich, clock, otp="000000").status_code == 401
    assert _log_in(browser, ulrich, clock).status_code == 303
    headers = {"Authorization": f"Bearer {token_for(platform, ulrich.id)}"}
    report = browser.get("/api/v1/audit/reports", params={"format": "csv"}, headers=headers)
    assert report.status_code == 200, report.text


def _clear(payload: str) -> str:
    """The payload without its sealed part: what anyone reading the table sees in clear."""
    found = json.loads(payload)
    found.pop("sealed", None)
    return json.dumps(found, ensure_ascii=False)


def _hits(session: Session, read: Callable[[AuditEntry], str]) -> list[str]:
    """Each (entry, term) where a personal term shows in `read(entry)`, as `#seq event: term`."""
    rows = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    return [
        f"#{row.seq} {row.event}: {term}"
        for row in rows
        for term in PERSONAL
        if term in read(row) and (row.event, term) not in ALLOWED
    ]


@pytest.fixture
def day(platform: Platform, browser: TestClient, clock: Clock) -> None:
    _client_day(platform, browser, clock, make_user(platform, CLIENT))
    _staff_day(platform, browser, clock)


def test_no_personal_data_in_clear_in_the_audit_log(day: None, platform: Platform) -> None:
    with unit_of_work(platform.sessions) as session:
        events = set(session.scalars(select(AuditEntry.event)))
        assert verify(session).ok
        hits = _hits(session, lambda row: f"{row.actor}\n{row.subject}\n{_clear(row.payload)}")
    assert hits == []
    # the day really happened: each kind of entry that could carry these terms is there
    assert {
        "link:failed",
        "link:completed",
        "identity:linked",
        "message:received",
        "authn:failed",
        "session:started",
        "access:allowed",
        "order:placed",
        "sms_code:sent",
        "sms_code:failed",
        "user:phone_set",
        "user:created",
        "role:assigned",
        "report:exported",
    } <= events


def test_after_retention_nothing_personal_can_be_read_back_and_proofs_hold(
    day: None, platform: Platform, clock: Clock
) -> None:
    """Sealed is not kept: once every period ended (access logs 2 years, chat 7), opening every
    entry's sealed details yields nothing personal either, and the log still verifies."""
    with unit_of_work(platform.sessions) as session:
        assert _hits(session, lambda row: _opened(session, row))  # readable before
    later = retention.add_years(clock.now, 7) + dt.timedelta(days=2)
    policy = retention.RetentionPolicy({"chat": 7, "orders": 7, "access_logs": 2})
    with unit_of_work(platform.sessions) as session:
        retention.run(
            session,
            envelope=platform.desk.envelope,
            policy=policy,
            resolve=scopes_for_hold,
            now=later,
            actor="test",
        )
    with unit_of_work(platform.sessions) as session:
        assert _hits(session, lambda row: _opened(session, row)) == []
        assert verify(session).ok


def _opened(session: Session, row: AuditEntry) -> str:
    """Everything a reader with every key could see of the entry."""
    payload = reveal(session, json.loads(row.payload))
    return f"{row.actor}\n{row.subject}\n{json.dumps(payload, ensure_ascii=False)}"


def _table_hits(session: Session) -> set[tuple[str, str]]:
    """Each (table.column, term) where a personal term shows in clear in an operational table
    (every text column but the audit log's, which the tests above read)."""
    found = set()
    for table in Base.metadata.sorted_tables:
        if table.name == "audit_entry":
            continue
        columns = [c for c in table.columns if isinstance(c.type, (String, Text))]
        for row in session.execute(select(*columns)) if columns else ():
            for column, value in zip(columns, row, strict=True):
                found |= {
                    (f"{table.name}.{column.name}", term)
                    for term in PERSONAL
                    if value and term in value
                }
    return found


def test_past_every_period_the_operational_tables_keep_nothing_personal(
    day: None, platform: Platform, settings: Settings, clock: Clock
) -> None:
    with unit_of_work(platform.sessions) as session:
        before = _table_hits(session)
    # the day left handles, numbers and the address in clear where they were needed
    assert {
        ("conversation.external_id", WA_ID),
        ("conversation.external_id", MATRIX_ID),
        ("message.sender_id", WEB_ID),
        ("message.sender_id", MATRIX_ID),
        ("chat_identity.external_id", WA_ID),
        ("secure_link.external_id", WA_ID),
        ("stepup_proof.external_id", WA_ID),
        ("auth_session.source_ip", ADDRESS),
    } <= before
    report = run_retention(platform, settings, retention.add_years(clock.now, 7) + DAYS_2)
    with unit_of_work(platform.sessions) as session:
        assert _table_hits(session) - ACCOUNT_KEPT == set()
        assert verify(session).ok
    assert report["purged"]["conversation_addresses"] == 3
    assert report["purged"]["chat_identities"] == 1
    # she writes again from the same WhatsApp number: a new conversation, and she logs in anew
    clock.now = retention.add_years(clock.now, 7) + DAYS_2
    assert _whatsapp(platform, "mkt eurusd 1m", "m-after")[0].link
    with unit_of_work(platform.sessions) as session:
        rooms = list(session.scalars(select(Conversation.external_id)))
    assert sorted(room.partition(":")[0] for room in rooms) == ["erased"] * 3 + [f"room-{WA_ID}"]


def test_a_hold_on_the_client_keeps_her_linked_handle_and_nothing_else(
    day: None, platform: Platform, settings: Settings, clock: Clock
) -> None:
    """Her WhatsApp conversations are covered (she wrote there through her linked identity);
    the web chat and Matrix handles she never linked are not hers to the bank, and go."""
    with unit_of_work(platform.sessions) as session:
        client = session.scalars(select(User.id).where(User.username == CLIENT)).one()
        retention.set_hold(
            session, kind="client", target=client, reason="inquiry", actor="t", now=clock.now
        )
    run_retention(platform, settings, retention.add_years(clock.now, 7) + DAYS_2)
    with unit_of_work(platform.sessions) as session:
        kept = {term for _, term in _table_hits(session) - ACCOUNT_KEPT}
        assert verify(session).ok
    assert kept == {WA_ID}


DAYS_2 = dt.timedelta(days=2)
