"""A client's report is about her, completely: named by username, never empty by mistake."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.conversations import reporting
from dealchat.conversations.report_subjects import UnknownPersonError
from dealchat.db.session import unit_of_work
from tests.compliance.conftest import OFF_CHANNEL
from tests.factories.access import give_role, token_for
from tests.factories.identity import make_user


def _report(platform: Platform, client: str) -> Any:
    with unit_of_work(platform.sessions) as session:
        return reporting.build(session, platform.desk, start=None, end=None, client=client)


def test_a_client_report_by_username_holds_everything_about_her(
    held_platform: Platform, alice_day: dict[str, Any]
) -> None:
    report = _report(held_platform, "alice")
    events = {row.event for row in report.rows}
    expected = {
        "message:received",  # hers
        "message:sent",  # the bot's replies
        "ticket:created",
        "control:decided",
        "order:held",
        "alert:raised",
        "authn:succeeded",  # her logins
        "link:issued",
        "identity:linked",
    }
    assert expected <= events, expected - events
    texts = [row.text for row in report.rows if row.text]
    assert OFF_CHANNEL in texts
    assert "hello from bob" not in texts
    assert report.query.filters == {"client": "alice"}
    by_id = _report(held_platform, alice_day["alice"].id)  # the user id still works
    assert [row.seq for row in by_id.rows] == [row.seq for row in report.rows]


def test_an_unknown_client_is_an_error_not_an_empty_report(
    held_platform: Platform, alice_day: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnknownPersonError, match="nobody-here"):
        _report(held_platform, "nobody-here")
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", held_platform.settings.database_url)
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(held_platform.settings.data_dir))
    runner = CliRunner()
    unknown = runner.invoke(app, ["audit", "report", "--client", "nobody-here"])
    assert unknown.exit_code == 2
    assert "no user is called 'nobody-here'" in unknown.output
    known = runner.invoke(app, ["audit", "report", "--client", "alice"])
    assert known.exit_code == 0, known.output
    assert json.loads(known.stdout)["filters"] == {"client": "alice"}


def test_the_api_answers_404_for_an_unknown_client(
    held_platform: Platform, alice_day: dict[str, Any]
) -> None:
    carol = make_user(held_platform, "carol", kind="internal")
    give_role(held_platform, "carol", "compliance", [Right.AUDIT_EXPORT])
    headers = {"Authorization": f"Bearer {token_for(held_platform, carol.id)}"}
    with TestClient(create_app(platform=held_platform)) as http:
        url = "/api/v1/audit/reports"
        missing = http.get(url, params={"client": "nobody-here"}, headers=headers)
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        found = http.get(url, params={"client": "alice"}, headers=headers)
        assert found.status_code == 200
        assert "order:held" in {row["event"] for row in found.json()["rows"]}
