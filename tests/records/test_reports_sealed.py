"""Audit reports open sealed details for their reader (JSON, CSV, PDF, over the API and the CLI:
the handle, the username, or `erased`), while the bundle keeps every entry as stored (the
ciphertext its leaf commits to) and still verifies offline, before and after retention erased the
details."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.conversations.bodies import scope_of
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.records import personal
from dealchat.records.keys import load_keyring
from dealchat.records.reports_bundle import verify_bundle
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.chat import Chat
from tests.factories.identity import make_user

HANDLE = "sender-alice-42"
SENDER = f"webchat:{HANDLE}"
URL = "/api/v1/audit/reports"


@pytest.fixture
def day(client: TestClient, platform: Platform, clock: Clock) -> dict[str, Any]:
    """alice links her chat and asks for a price; carol (compliance) may export reports."""
    alice = make_user(platform, "alice.r")
    chat = Chat(client, clock, conversation="conv-sealed-1", sender=HANDLE)
    chat.link_and_log_in(alice)
    chat.say("mkt eurusd 1m")
    carol = make_user(platform, "carol", kind="internal")
    give_role(platform, "carol", "compliance", [Right.AUDIT_EXPORT])
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Conversation)).one().id
    headers = {"Authorization": f"Bearer {token_for(platform, carol.id)}"}
    return {"alice": alice.id, "conversation": conversation, "headers": headers}


def _get(client: TestClient, day: dict[str, Any], fmt: str) -> bytes:
    params = {"client": day["alice"], "format": fmt}
    response = client.get(URL, params=params, headers=day["headers"])
    assert response.status_code == 200, response.text
    return response.content


def _rows(client: TestClient, day: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The JSON report's payloads by event (the last entry of each)."""
    body = json.loads(_get(client, day, "json"))
    assert all("sealed" not in row["payload"] for row in body["rows"])
    return {row["event"]: row["payload"] for row in body["rows"]}


def _bundle_checks(client: TestClient, day: dict[str, Any], settings: Settings) -> None:
    bundle = json.loads(_get(client, day, "bundle"))
    stored = [json.loads(item["entry"]["payload"]) for item in bundle["entries"]]
    assert sum("sealed" in payload for payload in stored) >= 4  # ciphertext, as committed to
    assert HANDLE not in json.dumps(bundle["entries"])
    assert verify_bundle(bundle, keys=load_keyring(settings.keys_dir)).entries == len(stored)


def test_json_csv_and_pdf_show_opened_details_the_bundle_the_stored_ones(
    client: TestClient, platform: Platform, day: dict[str, Any], settings: Settings
) -> None:
    rows = _rows(client, day)
    for event in ("message:received", "link:completed", "identity:linked"):
        assert (rows[event]["sender"], rows[event]["erased"]) == (SENDER, False), event
    assert rows["user:created"]["username"] == "alice.r"
    table = list(csv.DictReader(io.StringIO(_get(client, day, "csv").decode("utf-8"))))
    linked = next(row for row in table if row["event"] == "identity:linked")
    assert json.loads(linked["payload"])["sender"] == SENDER
    assert all('"blob"' not in row["payload"] for row in table)
    pdf = PdfReader(io.BytesIO(_get(client, day, "pdf")))
    words = "".join("".join(page.extract_text().split()) for page in pdf.pages)
    assert HANDLE in words
    _bundle_checks(client, day, settings)


def test_once_erased_reports_say_so_and_the_bundle_still_verifies(
    client: TestClient,
    platform: Platform,
    day: dict[str, Any],
    settings: Settings,
    clock: Clock,
) -> None:
    with unit_of_work(platform.sessions) as session:
        scopes = personal.scopes_of(session, day["alice"]) | {scope_of(day["conversation"])}
        scopes |= personal.scopes_of(session, personal.ANONYMOUS)  # the link issued unlinked
        for scope in scopes:
            platform.desk.envelope.destroy(
                session, scope=scope, reason="test", actor="test", now=clock.now
            )
    rows = _rows(client, day)
    for event in ("message:received", "link:completed", "identity:linked", "user:created"):
        assert rows[event]["erased"] is True, event
        assert "sender" not in rows[event]
        assert "username" not in rows[event]
    table = _get(client, day, "csv").decode("utf-8")
    assert HANDLE not in table
    assert "alice.r" not in table
    pdf = PdfReader(io.BytesIO(_get(client, day, "pdf")))
    words = "".join("".join(page.extract_text().split()) for page in pdf.pages)
    assert HANDLE not in words
    assert '"erased":true' in words
    _bundle_checks(client, day, settings)


def test_the_cli_report_opens_them_too(
    day: dict[str, Any],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    out = tmp_path / "report.csv"
    args = ["audit", "report", "--client", day["alice"], "--format", "csv", "-o", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    received = [row for row in table if row["event"] == "message:received"]
    assert received
    assert {json.loads(row["payload"])["sender"] for row in received} == {SENDER}
