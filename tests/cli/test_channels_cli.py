"""`dealchat channels list|check` against local stand-ins for the platforms' APIs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access import service as access
from dealchat.api.deps import Platform
from dealchat.app import build_platform
from dealchat.channels.interfaces import DeliveryFailed, InboundMessage
from dealchat.channels.outbox import PENDING, OutboxItem
from dealchat.channels.outbox_dispatch import Dispatcher
from dealchat.cli.guard import EXIT_DENIED
from dealchat.cli.main import app
from dealchat.conversations.desk import handle_inbound
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.settings import Settings
from tests.channels.fakes import FakeAdapter
from tests.channels.platform_server import Answer, PlatformServer, platform_server
from tests.channels.slack import wire as slack
from tests.channels.telegram import wire as telegram
from tests.factories.access import token_for
from tests.factories.identity import make_user


@pytest.fixture
def api() -> Iterator[PlatformServer]:
    me = {"ok": True, "result": {"id": 7000000001, "is_bot": True, "username": "desk_bot"}}
    auth = {"ok": True, "team": "Bank FX", "user": "desk", "team_id": "T061EG9R6"}
    with platform_server(
        {
            "/api/auth.test": lambda call: Answer(body=auth),
            f"/bot{telegram.BOT_TOKEN}/getMe": lambda call: Answer(body=me),
        }
    ) as server:
        yield server


@pytest.fixture
def env(
    settings: Settings, api: PlatformServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Settings:
    secret_file = tmp_path / "slack-signing"
    secret_file.write_text(slack.SECRET)
    values = {
        "DEALCHAT_DATA_DIR": str(settings.data_dir),
        "DEALCHAT_DATABASE_URL": settings.db_url,
        "DEALCHAT_CHANNELS__SLACK__ENABLED": "true",
        "DEALCHAT_CHANNELS__SLACK__API_URL": f"{api.url}/api",
        "DEALCHAT_CHANNELS__SLACK__SIGNING_SECRET_FILE": str(secret_file),
        "DEALCHAT_CHANNELS__SLACK__BOT_TOKEN": slack.TOKEN,
        "DEALCHAT_CHANNELS__TELEGRAM__ENABLED": "true",
        "DEALCHAT_CHANNELS__TELEGRAM__API_URL": api.url,
        "DEALCHAT_CHANNELS__TELEGRAM__BOT_TOKEN": telegram.BOT_TOKEN,
        "DEALCHAT_CHANNELS__TELEGRAM__SECRET_TOKEN": telegram.SECRET_TOKEN,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return settings


def _no_secrets(output: str) -> None:
    for secret in (slack.SECRET, slack.TOKEN, telegram.BOT_TOKEN, telegram.SECRET_TOKEN):
        assert secret not in output


def test_check_asks_each_platform_who_we_are(env: Settings, api: PlatformServer) -> None:
    result = CliRunner().invoke(app, ["channels", "check"])
    assert result.exit_code == 0, result.output
    assert "slack: ok, team Bank FX as desk" in result.output
    assert "telegram: ok, bot @desk_bot" in result.output
    assert [call.path for call in api.calls] == [
        "/api/auth.test",
        f"/bot{telegram.BOT_TOKEN}/getMe",
    ]
    _no_secrets(result.output)


def test_check_fails_when_a_platform_refuses(env: Settings, api: PlatformServer) -> None:
    api.answer_next(Answer(body={"ok": False, "error": "invalid_auth"}))
    result = CliRunner().invoke(app, ["channels", "check"])
    assert result.exit_code == 1
    assert "slack: FAILED DeliveryFailed: slack: invalid_auth" in result.output
    _no_secrets(result.output)


def test_check_names_a_missing_secret_without_showing_any(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEALCHAT_CHANNELS__TELEGRAM__SECRET_TOKEN")
    result = CliRunner().invoke(app, ["channels", "check"])
    assert result.exit_code == 1
    assert "channels.telegram" in result.output
    assert "secret_token" in result.output
    _no_secrets(result.output)


def test_list_shows_channels_secrets_set_and_the_outbox(env: Settings) -> None:
    platform: Platform = build_platform(Settings())
    try:
        with unit_of_work(platform.sessions) as session:
            message = InboundMessage("slack", "T1:C1", "T1:U1", "1700000000.000001", "hello")
            handle_inbound(session, message=message, desk=platform.desk)
    finally:
        platform.engine.dispose()
    result = CliRunner().invoke(app, ["channels", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert "signing_secret=file bot_token=set" in lines["slack"]
    assert " on " in lines["slack"]
    assert "outbox pending=1" in lines["slack"]
    assert " off " in lines["wechat"]
    assert "token=missing" in lines["wechat"]
    _no_secrets(result.output)


def test_dead_letters_are_listed_and_requeued_with_an_audit_entry(env: Settings) -> None:
    platform = build_platform(Settings())
    try:
        with unit_of_work(platform.sessions) as session:
            message = InboundMessage("fake", "c-1", "u-1", "m-1", "hello")
            handle_inbound(session, message=message, desk=platform.desk)
        fake = FakeAdapter()
        fake.failures.append(DeliveryFailed("slack: channel_not_found", permanent=True))
        Dispatcher(platform.sessions, {"fake": fake}, platform.desk).run_once()
        with unit_of_work(platform.sessions) as session:
            item_id = session.scalars(select(OutboxItem.id)).one()

        listed = CliRunner().invoke(app, ["channels", "dead"])
        assert listed.exit_code == 0, listed.output
        assert f"{item_id}  fake  tries=1" in listed.output
        assert "slack: channel_not_found" in listed.output

        with unit_of_work(platform.sessions) as session:
            access.seed_defaults(session)
        ops = make_user(platform, "ops", kind="internal")
        with unit_of_work(platform.sessions) as session:
            access.assign(session, actor=access.system_actor(), role="admin", username="ops")
        token = {"DEALCHAT_TOKEN": token_for(platform, ops.id)}
        stranger = {"DEALCHAT_TOKEN": "dct_" + "x" * 43}
        denied = CliRunner().invoke(app, ["channels", "requeue", item_id], env=stranger)
        assert denied.exit_code == EXIT_DENIED
        requeued = CliRunner().invoke(app, ["channels", "requeue", item_id], env=token)
        assert requeued.exit_code == 0, requeued.output
        again = CliRunner().invoke(app, ["channels", "requeue", item_id], env=token)
        assert again.exit_code == 1
        assert "no dead letters" in CliRunner().invoke(app, ["channels", "dead"]).output
        with unit_of_work(platform.sessions) as session:
            item = session.get_one(OutboxItem, item_id)
            assert (item.state, item.attempts) == (PENDING, 0)
            events = session.scalars(select(AuditEntry.event).order_by(AuditEntry.seq)).all()
        assert events.count("delivery:requeued") == 1
        with unit_of_work(platform.sessions) as session:
            entry = session.scalars(
                select(AuditEntry).where(AuditEntry.event == "delivery:requeued")
            ).one()
        assert entry.actor == f"user:{ops.id}"
        Dispatcher(platform.sessions, {"fake": fake}, platform.desk).run_once()
        assert [text.text for _, text in fake.sent] == [fake.sent[0][1].text]
    finally:
        platform.engine.dispose()
