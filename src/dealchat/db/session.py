"""Engines and the unit of work: the caller owns the transaction and commits once.

Side effects that must not happen on rollback (chat replies, bus messages) are queued with
`after_commit` and run only once the transaction has committed.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from sqlalchemy import Dialect, Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

_HOOKS = "dealchat_after_commit"


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys, a busy timeout, writers queued in turn) or
    PostgreSQL (psycopg 3)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        writers = WriterQueue()
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", partial(_sqlite_begin_immediate, writers))
        event.listen(engine.pool, "checkin", partial(_sqlite_checkin, writers))
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20)
    event.listen(engine.pool, "connect", _idle_from_now)
    event.listen(engine.pool, "checkin", _idle_from_now)
    event.listen(engine.pool, "checkout", partial(_ping_if_idle, engine.dialect))
    return engine


# A pooled PostgreSQL connection is pinged before use only when it sat idle this long (what
# `pool_pre_ping` does on every checkout, a round trip per transaction): a database restarted
# while the pool was quiet is noticed on checkout, the dead connections replaced; one restarted
# under load fails the statement that meets it first, and the pool is then renewed.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "dealchat_idle_since"


def _idle_from_now(_dbapi_connection: Any, record: Any) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: Dialect, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    since = record.info.get(_IDLE_SINCE)
    if since is not None and time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as error:
        if dialect.is_disconnect(error, dbapi_connection, None):
            raise DisconnectionError from error  # the pool connects anew and checks out again
        raise


class WriterQueue:
    """This process's SQLite writers, served in the order they asked.

    SQLite has one writer at a time; without this, writers of one process wait in SQLite's busy
    handler, which sleeps and retries, so an unlucky one can lose the race again and again (a
    tail of seconds under load). Here they queue in arrival order before `BEGIN IMMEDIATE`; the
    busy handler is left only for other processes (a second server, a command). A writer that
    waits longer than `timeout` gives up as SQLite's own busy timeout would ("database is
    locked"), leaving the queue to the others."""

    def __init__(self, timeout: float = 30.0) -> None:
        self._turn = threading.Condition()
        self._waiting: deque[object] = deque()
        self._busy = False
        self._timeout = timeout

    def enter(self) -> None:
        me = object()
        with self._turn:
            self._waiting.append(me)
            deadline = time.monotonic() + self._timeout
            while self._busy or self._waiting[0] is not me:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._waiting.remove(me)
                    self._turn.notify_all()
                    raise sqlite3.OperationalError(
                        f"database is locked (waited {self._timeout:g} s for the writers ahead)"
                    )
                self._turn.wait(left)
            self._waiting.popleft()
            self._busy = True

    def leave(self) -> None:
        with self._turn:
            self._busy = False
            self._turn.notify_all()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


_WRITING = "dealchat_writing"


def _sqlite_begin_immediate(writers: WriterQueue, connection: Any) -> None:
    # Take the write lock at BEGIN so two writers queue instead of failing mid-transaction;
    # a snapshot reader (`reading`) begins a plain read transaction and never takes it.
    if connection.get_execution_options().get(_SNAPSHOT):
        connection.exec_driver_sql("BEGIN")
        return
    if not connection.info.get(_WRITING):  # its turn lasts until it is back in the pool
        writers.enter()
        connection.info[_WRITING] = True
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if connection.info.pop(_WRITING, False):
            writers.leave()
        raise


def _sqlite_checkin(writers: WriterQueue, _dbapi_connection: Any, record: Any) -> None:
    """A writer's turn ends when its connection is back in the pool: after its commit or
    rollback has reached the database (the transaction's own events come before it)."""
    if record.info.pop(_WRITING, False):
        writers.leave()


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


_PER_TRANSACTION: set[str] = set()


def per_transaction(key: str) -> str:
    """Declare a `session.info` key whose value lives as long as the outermost transaction
    (dropped when it ends, committed or not; savepoints do not end it). Returns the key."""
    _PER_TRANSACTION.add(key)
    return key


def _drop_per_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        for key in _PER_TRANSACTION:
            session.info.pop(key, None)


event.listen(Session, "after_transaction_end", _drop_per_transaction)


def keep(session: Session, row: object) -> None:
    """Hold `row` for the rest of the transaction: the session's identity map holds objects
    weakly, so a row read early and dropped would be read again by the next `session.get`."""
    if row is not None:
        session.info.setdefault(_KEPT, []).append(row)


_KEPT = per_transaction("dealchat_kept_rows")


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
