"""`dealchat audit verify` names the first entry that was changed, removed or reordered."""

from __future__ import annotations

import importlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from dealchat.api.deps import Platform
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.factories.chat import Chat

_MIGRATION = importlib.import_module(
    "migrations.versions.2026_11_24_5a1e0c7d9b21_audit_merkle_tree"
)
SQLITE_DOWN, POSTGRES_DOWN = _MIGRATION.SQLITE_DOWN, _MIGRATION.POSTGRES_DOWN


@pytest.fixture
def recorded(client: TestClient, platform: Platform, clock: Clock) -> int:
    chat = Chat(client, clock)
    for text_ in ("hello", "mkt eurusd 1m", "buy eurusd", "status"):
        chat.say(text_)
    with unit_of_work(platform.sessions) as session:
        return len(session.scalars(select(AuditEntry.seq)).all())


def _as_attacker(platform: Platform) -> None:
    """Someone with DDL rights lifts the append-only triggers first."""
    sqlite = platform.engine.dialect.name == "sqlite"
    statements = SQLITE_DOWN if sqlite else POSTGRES_DOWN
    with unit_of_work(platform.sessions) as session:
        for statement in statements:
            session.execute(text(statement))


def test_the_database_refuses_to_change_or_remove_entries(
    recorded: int, platform: Platform
) -> None:
    for statement in (
        "UPDATE audit_entry SET payload = '{}' WHERE seq = 2",
        "DELETE FROM audit_entry WHERE seq = 2",
    ):
        with pytest.raises(DBAPIError, match="append-only"), unit_of_work(platform.sessions) as s:
            s.execute(text(statement))
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


def _verify(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("DEALCHAT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("DEALCHAT_DATABASE_URL", settings.db_url)
    result = CliRunner().invoke(app, ["audit", "verify"])
    return result.exit_code, result.output


def test_an_untouched_log_verifies(
    recorded: int, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = _verify(settings, monkeypatch)
    assert code == 0, output
    assert f"{recorded} entries verified" in output


def test_an_edited_entry_is_named(
    recorded: int, platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_attacker(platform)
    with unit_of_work(platform.sessions) as session:
        session.execute(
            update(AuditEntry)
            .where(AuditEntry.seq == 3)
            .values(payload='{"text":"sell 9m eurusd"}')
        )
    code, output = _verify(settings, monkeypatch)
    assert code == 1
    assert "FAILED at entry 3" in output
    assert "altered" in output


def test_a_removed_entry_is_named(
    recorded: int, platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_attacker(platform)
    with unit_of_work(platform.sessions) as session:
        session.execute(text("DELETE FROM audit_entry WHERE seq = 4"))
    code, output = _verify(settings, monkeypatch)
    assert code == 1
    assert "FAILED at entry 4" in output
    assert "missing" in output


def test_a_removed_last_entry_is_named(
    recorded: int, platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_attacker(platform)
    with unit_of_work(platform.sessions) as session:
        session.execute(text(f"DELETE FROM audit_entry WHERE seq = {recorded}"))
    code, output = _verify(settings, monkeypatch)
    assert code == 1
    assert f"FAILED at entry {recorded}" in output


def test_reordered_entries_are_named(
    recorded: int, platform: Platform, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_attacker(platform)
    with unit_of_work(platform.sessions) as session:
        second, third = (session.get(AuditEntry, seq) for seq in (2, 3))
        assert second is not None
        assert third is not None
        columns = (
            "at",
            "event",
            "actor",
            "subject",
            "payload",
            "stream_seq",
            "prev_seq",
            "leaf_hash",
        )
        swapped = {name: getattr(third, name) for name in columns}
        for name in columns:
            setattr(third, name, getattr(second, name))
            setattr(second, name, swapped[name])
    code, output = _verify(settings, monkeypatch)
    assert code == 1
    assert "FAILED at entry 2" in output
