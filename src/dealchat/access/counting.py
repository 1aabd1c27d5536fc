"""Where rate limits and throttles count: in this process's memory, or in the database so that
every process and node on it counts together (`dealchat serve --workers N`, several nodes
behind a load balancer: two processes then refuse exactly what one would).

A counter answers `count(name, key, window, now) -> (window start, requests in it so far)`,
this one included. The database counter keeps fixed windows aligned on the epoch (a minute
window starts on the minute), one row per (limit, key, window), incremented with one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, a transaction of its own: no ORM session, no
BEGIN and COMMIT around it. Windows over an hour old are deleted now and then by whoever opens
a new one. On PostgreSQL the counts go through a small pool of their own, in autocommit and
without waiting for the WAL flush (`synchronous_commit` off on those connections alone): one
round trip a count. On SQLite they take the engine's own writer queue (`db.session`).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import OrderedDict
from typing import Any, Protocol

from sqlalchemy import BigInteger, Engine, Integer, String, create_engine, delete, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from dealchat.db.base import Base

KEEP = dt.timedelta(hours=1)  # windows older than this are deleted (longest window: minutes)
PURGE_ONE_IN = 200  # new windows that also delete the old ones
# PostgreSQL commits a count without waiting for its WAL flush (0.2-0.3 ms against 1.5-2.5 ms a
# check on this machine's database): losing the last counts in a crash only lets a few more in.
ASYNC_COMMIT = "SET synchronous_commit TO OFF"
POOL_SIZE, POOL_OVERFLOW = 4, 4  # a count holds its connection for one round trip
UPSERT = text(
    "INSERT INTO rate_window (name, key, started, count) VALUES (:name, :key, :started, 1)"
    " ON CONFLICT (name, key, started) DO UPDATE SET count = rate_window.count + 1"
    " RETURNING count"
)


class Counter(Protocol):
    def count(
        self, name: str, key: str, window: dt.timedelta, now: dt.datetime
    ) -> tuple[dt.datetime, int]: ...


class MemoryCounter:
    """Per process: a window starts at a key's first request; the least recent keys are
    forgotten past `capacity`."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._counts: OrderedDict[tuple[str, str], tuple[dt.datetime, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._counts)

    def count(
        self, name: str, key: str, window: dt.timedelta, now: dt.datetime
    ) -> tuple[dt.datetime, int]:
        counted = (name, key)
        with self._lock:
            started, count = self._counts.get(counted, (now, 0))
            if now - started >= window or now < started:
                started, count = now, 0
            count += 1
            self._counts[counted] = (started, count)
            self._counts.move_to_end(counted)
            while len(self._counts) > self.capacity:
                self._counts.popitem(last=False)
        return started, count


class RateWindow(Base):
    """Requests counted under one limit and key in one window (`access.counting`)."""

    __tablename__ = "rate_window"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    started: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch seconds
    count: Mapped[int] = mapped_column(Integer, default=0)


def purge(session: Session, now: dt.datetime) -> int:
    """Delete the windows over `KEEP` old (their keys are source addresses and conversation
    ids): `retention run`'s sweep, besides the tidying a new window does now and then."""
    old = int((now - KEEP).timestamp())
    result = session.execute(delete(RateWindow).where(RateWindow.started < old))
    return int(getattr(result, "rowcount", 0) or 0)


class DatabaseCounter:
    """Shared by every process on the database: fixed windows aligned on the epoch."""

    def __init__(self, engine: Engine) -> None:
        self._engine = counting_engine(engine)
        self._on_postgresql = engine.dialect.name == "postgresql"
        self._upsert = str(UPSERT.compile(dialect=engine.dialect))  # the driver's own form
        self._rng = random.Random()  # noqa: S311 - when to tidy up, not a secret

    def count(
        self, name: str, key: str, window: dt.timedelta, now: dt.datetime
    ) -> tuple[dt.datetime, int]:
        seconds = max(int(window.total_seconds()), 1)
        started = int(now.timestamp()) // seconds * seconds
        values = {"name": name, "key": key, "started": started}
        count = self._on_driver(values) if self._on_postgresql else self._in_transaction(values)
        if count == 1 and self._rng.randrange(PURGE_ONE_IN) == 0:
            old = int((now - KEEP).timestamp())
            with self._engine.begin() as connection:
                connection.execute(delete(RateWindow).where(RateWindow.started < old))
        return dt.datetime.fromtimestamp(started, dt.UTC), count

    def _in_transaction(self, values: dict[str, Any]) -> int:
        with self._engine.begin() as connection:
            return int(connection.execute(UPSERT, values).scalar_one())

    def _on_driver(self, values: dict[str, Any]) -> int:
        """The statement straight on a pooled driver connection in autocommit. When the database
        dropped the connection (a restart), a new pool (the others went with it) and once more."""
        try:
            return self._upsert_once(values)
        except _DroppedError:
            self._engine.dispose()
            return self._upsert_once(values)

    def _upsert_once(self, values: dict[str, Any]) -> int:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._upsert, values)
            [(count,)] = cursor.fetchall()
            cursor.close()
        except self._engine.dialect.loaded_dbapi.Error as error:
            dialect, dbapi_connection = self._engine.dialect, connection.dbapi_connection
            dropped = dialect.is_disconnect(error, dbapi_connection, None)
            connection.invalidate()  # never back in the pool in a state nobody knows
            if dropped:
                raise _DroppedError from error
            raise
        finally:
            connection.close()
        return int(count)


class _DroppedError(Exception):
    """The database closed the connection a count was using."""


def counting_engine(engine: Engine) -> Engine:
    """SQLite: the engine itself (its writers queue in turn). PostgreSQL: a small pool of its
    own in autocommit, never waiting for the WAL flush, disposed with the engine."""
    if engine.dialect.name != "postgresql":
        return engine
    counting = create_engine(
        engine.url,
        isolation_level="AUTOCOMMIT",
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
    )
    event.listen(counting, "connect", _async_commit)
    event.listen(engine, "engine_disposed", lambda _engine: counting.dispose())
    return counting


def _async_commit(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(ASYNC_COMMIT)
    cursor.close()
    dbapi_connection.commit()
