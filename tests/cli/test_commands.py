"""The operator commands: users add, demo seeding, audit verify on a fresh database."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path

import pyotp
import pytest
from typer.testing import CliRunner

from dealchat.cli.demo import with_demo_rates
from dealchat.cli.main import app
from dealchat.controls.engine import decide
from dealchat.controls.service import PreTrade
from dealchat.settings import ControlsSettings, Settings
from tests.controls.rulesets import FACTS


@pytest.fixture
def env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    return settings


def test_users_add_prints_the_provisioning_uri(env: Settings) -> None:
    secret = pyotp.random_base32(32)
    args = [
        "users",
        "add",
        "--kind",
        "external",
        "--username",
        "carol",
        "--password",
        "a long passphrase",
        "--totp-secret",
        secret,
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "created external user carol" in result.output
    assert f"otpauth://totp/dealchat:carol?secret={secret}&issuer=dealchat" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2
    assert "username taken" in again.output


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--kind", "external", "--username", "dave", "--password", "short"], "at least 8"),
        (["--kind", "robot", "--username", "dave", "--password", "long enough pw"], "kind"),
        (["--kind", "external", "--username", "D A", "--password", "long enough pw"], "username"),
        (
            [
                "--kind",
                "external",
                "--username",
                "dave",
                "--password",
                "long enough pw",
                "--totp-secret",
                "TOOSHORT",
            ],
            "TOTP",
        ),
    ],
)
def test_users_add_refuses_bad_input(env: Settings, args: list[str], problem: str) -> None:
    result = CliRunner().invoke(app, ["users", "add", *args])
    assert result.exit_code == 2
    assert problem in result.output


def test_demo_seeds_once_and_prints_the_same_logins(env: Settings) -> None:
    first = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    for name in ("admin", "dealer", "rita", "compliance", "alice", "bob"):
        assert name in first.output
    second = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert second.output == first.output
    stored = Path(env.data_dir) / "demo-credentials.json"
    assert stored.stat().st_mode & 0o777 == 0o600
    assert set(json.loads(stored.read_text())) == {
        "admin",
        "dealer",
        "rita",
        "compliance",
        "alice",
        "bob",
    }
    assert (Path(env.data_dir) / "keys" / "sealing.key").stat().st_mode & 0o777 == 0o600
    assert (Path(env.data_dir) / "demo-rates.yaml").exists()
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0
    assert re.fullmatch(r"audit log OK: \d+ entries verified\n", verified.output)


def test_the_demo_states_its_rates_as_of_its_start(tmp_path: Path) -> None:
    start = dt.datetime(2027, 3, 6, 12, tzinfo=dt.UTC)  # long after the shipped fixing's date
    env = Settings(data_dir=tmp_path / "var")
    demo = with_demo_rates(env, now=start)
    assert demo.controls.rates_file == tmp_path / "var" / "demo-rates.yaml"
    pretrade = PreTrade.load(rates_file=demo.controls.rates_file)
    assert {rate.as_of for rate in pretrade.rates.rates} == {start}
    order = replace(FACTS, desk="FX-24H", at=start + dt.timedelta(hours=1))
    fired = decide(pretrade.fallback, order, rates=pretrade.rates).fired
    assert "rate-known" not in [f.rule_id for f in fired]
    later = replace(order, at=start + dt.timedelta(hours=73))  # nobody restarted the demo
    fired = decide(pretrade.fallback, later, rates=pretrade.rates).fired
    assert "rate-known" in [f.rule_id for f in fired]
    named = env.model_copy(update={"controls": ControlsSettings(rates_file=tmp_path / "r.yaml")})
    assert with_demo_rates(named, now=start) is named  # the operator's own rates stay
