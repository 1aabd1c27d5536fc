"""Shared fixtures: one parametrised database fixture runs DB tests on SQLite and PostgreSQL.

PostgreSQL is the running server (DEALCHAT_TEST_PG_URL, default postgres@127.0.0.1:5432/test);
each test gets a schema of its own, dropped afterwards. Under CI=true an unreachable PostgreSQL
fails the run; elsewhere those tests are skipped with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from dealchat.api.deps import Platform
from dealchat.app import build_platform, create_app
from dealchat.settings import Settings

# the real clamd and the real FIX counterparty (QuickFIX's executor), for every test package
pytest_plugins = ["tests.documents.clamd", "tests.execution.executor"]

PG_URL = os.environ.get("DEALCHAT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI") == "true"


def _pg_problem() -> str | None:
    engine = create_engine(PG_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    finally:
        engine.dispose()
    return None


@pytest.fixture(scope="session")
def pg_ready() -> None:
    problem = _pg_problem()
    if problem is None:
        return
    message = f"PostgreSQL at {PG_URL} is not reachable: {problem}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dealchat.db'}"
        return
    request.getfixturevalue("pg_ready")
    with pg_schema() as url:
        yield url


@contextmanager
def pg_schema() -> Iterator[str]:
    """The test database's URL with a schema of its own as the search path, dropped after."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class Clock:
    """A settable clock for the desk, so expiry and TOTP steps are tested without sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", database_url=database_url)


@pytest.fixture
def platform(settings: Settings, clock: Clock) -> Iterator[Platform]:
    built = build_platform(settings)
    desk = dataclasses.replace(built.desk, clock=clock)
    built = dataclasses.replace(built, desk=desk)
    yield built
    built.engine.dispose()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform=platform), raise_server_exceptions=False) as test_client:
        yield test_client
