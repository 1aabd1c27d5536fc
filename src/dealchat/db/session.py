"""Engines and the unit of work: the caller owns the transaction and commits once.

Side effects that must not happen on rollback (chat replies, bus messages) are queued with
`after_commit` and run only once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

_HOOKS = "dealchat_after_commit"


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys, a busy timeout) or PostgreSQL (psycopg 3)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN so two writers queue instead of failing mid-transaction;
    # a snapshot reader (`reading`) begins a plain read transaction and never takes it.
    if connection.get_execution_options().get(_SNAPSHOT):
        connection.exec_driver_sql("BEGIN")
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE")


_SNAPSHOT = "dealchat_snapshot"


def snapshot_engine(engine: Engine) -> Engine:
    """The engine for reading one consistent snapshot without blocking writers.

    SQLite: a deferred read transaction (WAL keeps its snapshot from its first read to its end;
    it takes no write lock). PostgreSQL: REPEATABLE READ, READ ONLY (every statement sees the
    snapshot of the first).
    """
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{_SNAPSHOT: True})
    return engine.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "after_commit", _run_hooks)
    event.listen(factory, "after_rollback", _drop_hooks)
    return factory


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run `hook` once the session's transaction commits; never if it rolls back."""
    session.info.setdefault(_HOOKS, []).append(hook)


def _run_hooks(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the transaction goes on
        return
    hooks = session.info.pop(_HOOKS, [])
    for hook in hooks:
        hook()


def _drop_hooks(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT rolled back: the transaction goes on
        return
    session.info.pop(_HOOKS, None)


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One read-only transaction on one consistent snapshot of the database: what it reads
    first and last agree however much is committed meanwhile, and writers never wait on it
    (`snapshot_engine`). Writing in it fails (PostgreSQL) or waits for the write lock (SQLite):
    use it for checks and reports, never for work."""
    bind = factory.kw.get("bind")
    if not isinstance(bind, Engine):
        raise TypeError("a snapshot reader needs a session factory bound to an engine")
    with factory(bind=snapshot_engine(bind)) as session, session.begin():
        yield session


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back if it raises."""
    with factory() as session, session.begin():
        yield session
