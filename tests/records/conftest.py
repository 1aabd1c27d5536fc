"""The records tests' database: a migrated engine (SQLite and PostgreSQL, via `database_url`)
and a session factory on it, as the platform builds them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db import migrate
from dealchat.db.session import make_engine, make_session_factory


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    migrate.upgrade(built)
    yield built
    built.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
