"""Audit reports: JSON, CSV and PDF through the service, the CLI, the API (audit:export) and the
single-use link `report` gives an authorised internal user in chat."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.conversations import reporting
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user

FORMULA = '=HYPERLINK("http://evil")'


@pytest.fixture
def desk_day(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice (a client) quotes and tickets in one chat; someone else writes in another."""
    alice = make_user(platform)
    chat = Chat(client, clock, conversation="conv-alice-01", sender="sender-alice-01")
    chat.link_and_log_in(alice)
    chat.say("mkt eurusd 1m")
    chat.say("buy 1m eurusd")
    Chat(client, clock, conversation="conv-other-01", sender="sender-other-1").say(FORMULA)
    with unit_of_work(platform.sessions) as session:
        ids = {c.external_id: c.id for c in session.scalars(select(Conversation))}
    return {"alice": alice, "mine": ids["conv-alice-01"], "other": ids["conv-other-01"]}


def _build(platform: Platform, **filters: Any) -> Any:
    with unit_of_work(platform.sessions) as session:
        return reporting.build(session, platform.desk, start=None, end=None, **filters)


def _all_seqs(platform: Platform) -> list[int]:
    with unit_of_work(platform.sessions) as session:
        return list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))


def test_filters_by_client_conversation_and_window(
    desk_day: dict[str, Any], platform: Platform
) -> None:
    everything = _build(platform)
    assert [row.seq for row in everything.rows] == _all_seqs(platform)
    alice = _build(platform, client=desk_day["alice"].id)
    subjects = {row.subject for row in alice.rows}
    assert f"conversation:{desk_day['mine']}" in subjects
    assert f"conversation:{desk_day['other']}" not in subjects
    assert {"quote:given", "ticket:created", "message:received"} <= {r.event for r in alice.rows}
    other = _build(platform, conversation=desk_day["other"])
    assert {row.subject for row in other.rows} == {f"conversation:{desk_day['other']}"}
    assert [row.text for row in other.rows if row.event == "message:received"] == [FORMULA]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert _build(platform, client=desk_day["alice"].id).rows  # sanity: not empty
    with unit_of_work(platform.sessions) as session:
        assert not reporting.build(session, platform.desk, start=later, end=None).rows
        with pytest.raises(ValueError, match="after"):
            reporting.build(session, platform.desk, start=later, end=later)


def test_json_csv_and_pdf_carry_the_same_entries(
    desk_day: dict[str, Any], platform: Platform
) -> None:
    report = _build(platform, conversation=desk_day["other"])
    as_json = json.loads(reporting.render(report, "json"))
    assert [row["seq"] for row in as_json["rows"]] == [row.seq for row in report.rows]
    received = next(r for r in as_json["rows"] if r["event"] == "message:received")
    assert received["text"] == FORMULA
    assert "body_sha256" in received["payload"]
    rows = list(csv.DictReader(io.StringIO(reporting.render(report, "csv").decode("utf-8"))))
    assert [int(row["seq"]) for row in rows] == [row.seq for row in report.rows]
    cell = next(row["text"] for row in rows if row["event"] == "message:received")
    assert cell == "'" + FORMULA  # never a live spreadsheet formula
    pdf = reporting.render(report, "pdf")
    assert pdf.startswith(b"%PDF")
    words = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "dealchat audit report" in words
    assert "message:received" in words


@pytest.fixture
def carol(platform: Platform) -> TestUser:
    user = make_user(platform, "carol", kind="internal")
    give_role(platform, "carol", "compliance", [Right.AUDIT_EXPORT])
    return user


def _bearer(platform: Platform, user: TestUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(platform, user.id)}"}


def test_the_api_needs_audit_export_and_records_the_export(
    desk_day: dict[str, Any], client: TestClient, platform: Platform, carol: TestUser
) -> None:
    url = "/api/v1/audit/reports"
    assert client.get(url).status_code == 401
    dave = make_user(platform, "dave", kind="internal")
    assert client.get(url, headers=_bearer(platform, dave)).status_code == 403
    headers = _bearer(platform, carol)
    response = client.get(url, params={"client": desk_day["alice"].id}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["filters"] == {"client": desk_day["alice"].id}
    as_csv = client.get(url, params={"format": "csv"}, headers=headers)
    assert as_csv.headers["content-type"].startswith("text/csv")
    as_pdf = client.get(url, params={"format": "pdf"}, headers=headers)
    assert as_pdf.content.startswith(b"%PDF")
    bad = client.get(
        url, params={"from": "2026-11-24T10:00:00Z", "to": "2026-11-24T09:00:00Z"}, headers=headers
    )
    assert bad.status_code == 400
    assert bad.headers["content-type"] == "application/problem+json"
    with unit_of_work(platform.sessions) as session:
        exports = session.scalars(
            select(AuditEntry).where(AuditEntry.event == "report:exported")
        ).all()
    assert [json.loads(e.payload)["format"] for e in exports] == ["json", "csv", "pdf"]
    assert {e.actor for e in exports} == {f"user:{carol.id}"}


def test_report_in_chat_a_link_for_compliance_a_refusal_for_clients(
    desk_day: dict[str, Any],
    client: TestClient,
    platform: Platform,
    clock: Clock,
    carol: TestUser,
) -> None:
    alice_chat = Chat(client, clock, conversation="conv-alice-01", sender="sender-alice-01")
    refusal = alice_chat.say("report")
    assert [(r["text"], r["link"]) for r in refusal] == [
        ("Audit reports are for authorised internal users, from the compliance console.", None)
    ]
    desk = Chat(client, clock, conversation="conv-carol-01", sender="sender-carol-01")
    desk.link_and_log_in(carol)
    path = urlparse(desk.link("audit report")).path
    assert path.startswith("/api/v1/audit/reports/links/")
    assert client.get(path).status_code == 401  # the link alone is not enough
    headers = _bearer(platform, carol)
    first = client.get(path, headers=headers)
    assert first.status_code == 200, first.text
    assert first.content.startswith(b"%PDF")
    assert client.get(path, headers=headers).status_code == 404  # single use


def test_a_report_link_is_only_for_whom_it_was_given(
    desk_day: dict[str, Any],
    client: TestClient,
    platform: Platform,
    clock: Clock,
    carol: TestUser,
) -> None:
    desk = Chat(client, clock, conversation="conv-carol-01", sender="sender-carol-01")
    desk.link_and_log_in(carol)
    path = urlparse(desk.link("report")).path
    erin = make_user(platform, "erin", kind="internal")
    give_role(platform, "erin", "compliance", [Right.AUDIT_EXPORT])
    assert client.get(path, headers=_bearer(platform, erin)).status_code == 404
    dave = make_user(platform, "dave", kind="internal")
    dave_chat = Chat(client, clock, conversation="conv-dave-001", sender="sender-dave-01")
    dave_chat.link_and_log_in(dave)
    assert dave_chat.say("report")[0]["link"] is None  # internal, but no audit:export
    denied = entries(platform, "access:denied")
    assert any(e.get("user") == "dave" for e in denied)


def test_dealchat_audit_report_cli(
    desk_day: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    out = tmp_path / "report.csv"
    result = CliRunner().invoke(
        app,
        ["audit", "report", "--conversation", desk_day["other"], "--format", "csv", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {row["subject"] for row in rows} == {f"conversation:{desk_day['other']}"}
    result = CliRunner().invoke(app, ["audit", "report", "--from", "2026-11-24T10:00:00"])
    assert result.exit_code == 2
    assert "time zone" in result.output
