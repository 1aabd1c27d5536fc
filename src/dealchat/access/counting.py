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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    String,
    create_engine,
    delete,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dealchat.db.base import Base

KEEP = dt.timedelta(hours=1)  # windows older than this are deleted (longest window: minutes)
PURGE_ONE_IN = 200  # new windows that also delete the old ones
UNLIMITED = 2**31 - 1  # what a single count allows: nothing counted after it to stop
# PostgreSQL commits a count without waiting for its WAL flush (0.2-0.3 ms against 1.5-2.5 ms a
# check on this machine's database): losing the last counts in a crash only lets a few more in.
ASYNC_COMMIT = "SET synchronous_commit TO OFF"
POOL_SIZE, POOL_OVERFLOW = 4, 4  # a count holds its connection for one round trip
UPSERT = text(
    "INSERT INTO rate_window (name, key, started, count) VALUES (:name, :key, :started, 1)"
    " ON CONFLICT (name, key, started) DO UPDATE SET count = rate_window.count + 1"
    " RETURNING count"
)


@dataclass(frozen=True)
class Counted:
    """One count a request makes: under limit `name` for `key`, which allows `allowed`."""

    name: str
    key: str
    window: dt.timedelta
    allowed: int


class Counter(Protocol):
    def count(
        self, name: str, key: str, window: dt.timedelta, now: dt.datetime
    ) -> tuple[dt.datetime, int]: ...

    def count_in_turn(
        self, counts: Sequence[Counted], now: dt.datetime
    ) -> list[tuple[dt.datetime, int]]:
        """Each count in turn while the ones before it are within what they allow: the window
        and count of each one counted (the last may be over its limit; those after it are not
        counted at all)."""
        ...


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

    def count_in_turn(
        self, counts: Sequence[Counted], now: dt.datetime
    ) -> list[tuple[dt.datetime, int]]:
        return in_turn(self.count, counts, now)


def in_turn(
    count: Callable[[str, str, dt.timedelta, dt.datetime], tuple[dt.datetime, int]],
    counts: Sequence[Counted],
    now: dt.datetime,
) -> list[tuple[dt.datetime, int]]:
    """`Counter.count_in_turn` made of single counts."""
    made: list[tuple[dt.datetime, int]] = []
    for counted in counts:
        made.append(count(counted.name, counted.key, counted.window, now))
        if made[-1][1] > counted.allowed:
            break
    return made


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
    """Shared by every process on the database: fixed windows aligned on the epoch. The counts
    a request makes in turn are one statement on PostgreSQL (`chained_upsert`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = counting_engine(engine)
        self._on_postgresql = engine.dialect.name == "postgresql"
        self._rng = random.Random()  # noqa: S311 - when to tidy up, not a secret

    def count(
        self, name: str, key: str, window: dt.timedelta, now: dt.datetime
    ) -> tuple[dt.datetime, int]:
        return self.count_in_turn([Counted(name, key, window, UNLIMITED)], now)[0]

    def count_in_turn(
        self, counts: Sequence[Counted], now: dt.datetime
    ) -> list[tuple[dt.datetime, int]]:
        starts = [_window_start(counted.window, now) for counted in counts]
        if self._on_postgresql:
            made = self._on_driver(counts, starts)
        else:
            with self._engine.begin() as connection:  # one transaction, in the writer queue
                made = in_turn(partial(_upsert, connection), counts, now)
        if any(count == 1 for _started, count in made) and self._rng.randrange(PURGE_ONE_IN) == 0:
            old = int((now - KEEP).timestamp())
            with self._engine.begin() as connection:
                connection.execute(delete(RateWindow).where(RateWindow.started < old))
        return made

    def _on_driver(
        self, counts: Sequence[Counted], starts: list[int]
    ) -> list[tuple[dt.datetime, int]]:
        """One statement straight on a pooled driver connection in autocommit. When the database
        dropped the connection (a restart), a new pool (the others went with it) and once more."""
        statement, values = chained_upsert(counts, starts)
        try:
            row = self._upsert_once(statement, values)
        except _DroppedError:
            self._engine.dispose()
            row = self._upsert_once(statement, values)
        return [(_at(started), int(count)) for started, count in zip(starts, row, strict=True)
                if count is not None]  # fmt: skip

    def _upsert_once(self, statement: str, values: dict[str, Any]) -> tuple[int | None, ...]:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(statement, values)
            [row] = cursor.fetchall()
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
        return tuple(row)


def chained_upsert(counts: Sequence[Counted], starts: list[int]) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the upserts of `counts` as one statement, each a CTE inserting only when the
    one before it returned a count within what it allows; the counts, NULL where not made.
    Rows are locked in the order given (the same for every request of a route: no deadlock)."""
    steps: list[str] = []
    values: dict[str, Any] = {}
    for n, (counted, started) in enumerate(zip(counts, starts, strict=True)):
        after = f" FROM c{n - 1} WHERE c{n - 1}.count <= %(allowed{n - 1})s" if n else ""
        steps.append(
            f"c{n} AS (INSERT INTO rate_window (name, key, started, count)"
            f" SELECT %(name{n})s, %(key{n})s, %(started{n})s, 1{after}"
            " ON CONFLICT (name, key, started) DO UPDATE SET count = rate_window.count + 1"
            " RETURNING count)"
        )
        values.update({f"name{n}": counted.name, f"key{n}": counted.key})
        values.update({f"started{n}": started, f"allowed{n}": counted.allowed})
    made = ", ".join(f"(SELECT count FROM c{n})" for n in range(len(counts)))  # noqa: S608 - numbered CTEs, every value a parameter
    return f"WITH {', '.join(steps)} SELECT {made}", values


def _upsert(
    connection: Connection, name: str, key: str, window: dt.timedelta, now: dt.datetime
) -> tuple[dt.datetime, int]:
    started = _window_start(window, now)
    values = {"name": name, "key": key, "started": started}
    return _at(started), int(connection.execute(UPSERT, values).scalar_one())


def _window_start(window: dt.timedelta, now: dt.datetime) -> int:
    seconds = max(int(window.total_seconds()), 1)
    return int(now.timestamp()) // seconds * seconds


def _at(started: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(started, dt.UTC)


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
