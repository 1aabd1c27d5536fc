"""`dealchat lexicon ...` and `dealchat alerts ...` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.access import token_for
from tests.factories.chat import Chat
from tests.factories.surveillance import REVIEW, staff

POLICY = "name: bets\nrules:\n  - id: bet\n    query: sure NEAR/2 (bet OR thing)\n"


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    return settings


def run(*args: str, token: str | None = None) -> tuple[int, str]:
    extra = ["--token", token] if token is not None else []
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, result.output


def _token(platform: Platform, username: str, *rights: Right) -> str:
    return token_for(platform, staff(platform, username, *rights).user_id)


def test_validate_and_test_a_policy_file_without_a_database(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(POLICY, encoding="utf-8")
    bad.write_text(POLICY.replace("(bet OR thing)", "(bet OR"), encoding="utf-8")
    assert run("lexicon", "validate", str(good)) == (0, "ok: bets with 1 rules\n")
    code, output = run("lexicon", "validate", str(bad))
    assert code == 2
    assert "rules.0.query" in output
    code, output = run("lexicon", "test", str(good), "a SURE bet", "not sure")
    assert code == 0
    assert output.splitlines() == ["HIT  a SURE bet  ->  bet: a [[SURE bet]]", "miss not sure"]


def test_propose_approve_review_and_close_from_the_command_line(
    env: Settings, client: TestClient, platform: Platform, clock: Clock, tmp_path: Path
) -> None:
    eddie = _token(platform, "eddie", Right.LEXICON_EDIT, Right.RULE_APPROVE)
    abby = _token(platform, "abby", Right.RULE_APPROVE, *REVIEW)
    path = tmp_path / "bets.yaml"
    path.write_text(POLICY, encoding="utf-8")
    assert run("lexicon", "propose", str(path), token=eddie)[0] == 0
    code, output = run("lexicon", "approve", "bets", "v1", token=eddie)
    assert code == 3  # refused: the proposer never approves
    assert "second person" in output
    assert run("lexicon", "approve", "bets", "1", token=abby) == (
        0,
        "approved bets v1: active now\n",
    )
    Chat(client, clock).say("it is a sure thing")
    code, output = run("alerts", "list", "--status", "open", token=abby)
    assert code == 0
    alert_id = output.split()[0]
    assert "bets/bet" in output
    assert run("alerts", "claim", alert_id, token=abby)[0] == 0
    code, output = run(
        "alerts", "close", alert_id, "--disposition", "nope", "--comment", "x", token=abby
    )
    assert code == 2
    assert "false_positive" in output
    args = ["--disposition", "false_positive", "--comment", "figure of speech"]
    assert run("alerts", "close", alert_id, *args, token=abby)[0] == 0
    code, output = run("alerts", "show", alert_id, token=abby)
    shown = json.loads(output)
    assert shown["highlighted"] == "it is a [[sure thing]]"
    assert [step["event"] for step in shown["history"]] == [
        "alert:raised",
        "alert:claimed",
        "alert:closed",
    ]
    code, output = run("alerts", "list", token=eddie)
    assert code == 3
    assert "needs alert:read" in output
