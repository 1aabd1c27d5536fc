"""A pooled PostgreSQL connection is pinged before use only after a quiet second in the pool
(db.session.PING_AFTER_IDLE_SECONDS): a connection the database dropped meanwhile is replaced on
checkout, and a busy connection goes back to work without the round trip."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from dealchat.db import session as db_session
from dealchat.db.session import make_engine

POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    yield built
    built.dispose()


def _pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(engine: Engine, pid: int) -> None:
    with engine.connect() as admin:  # the pool's other connection
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()


@POSTGRES_ONLY
def test_a_connection_dropped_while_idle_is_replaced_on_checkout(
    engine: Engine, monkeypatch: Any
) -> None:
    with engine.connect() as first, engine.connect():
        first_pid = int(first.execute(text("SELECT pg_backend_pid()")).scalar_one())
    _terminate(engine, first_pid)
    monkeypatch.setattr(db_session, "PING_AFTER_IDLE_SECONDS", 0.0)  # a quiet second passed
    seen = {_pid(engine), _pid(engine)}
    assert first_pid not in seen  # no statement met the dead connection


@POSTGRES_ONLY
def test_a_busy_connection_is_not_pinged(engine: Engine) -> None:
    statements: list[str] = []
    pings: list[object] = []
    _pid(engine)  # a connection in the pool, just checked in
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    original = engine.dialect.do_ping
    engine.dialect.do_ping = lambda dbapi: pings.append(dbapi) or original(dbapi)  # type: ignore[method-assign]
    try:
        _pid(engine)
    finally:
        engine.dialect.do_ping = original  # type: ignore[method-assign]
    assert pings == []
    assert len(statements) == 1
