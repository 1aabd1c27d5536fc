"""Where rate limits and throttles count: in this process's memory, or in the database so that
every process and node on it counts together (`dealchat serve --workers N`, several nodes
behind a load balancer: two processes then refuse exactly what one would).

A counter answers `count(name, key, window, now) -> (window start, requests in it so far)`,
this one included. The database counter keeps fixed windows aligned on the epoch (a minute
window starts on the minute), one row per (limit, key, window), incremented with one
`INSERT ... ON CONFLICT DO UPDATE ... RETURNING` in its own short transaction; windows over an
hour old are deleted now and then by whoever opens a new one. On PostgreSQL the count's
transaction does not wait for its WAL flush (`synchronous_commit` off for it alone).
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import OrderedDict
from typing import Protocol

from sqlalchemy import BigInteger, Integer, String, delete, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from dealchat.db.base import Base
from dealchat.db.session import unit_of_work

KEEP = dt.timedelta(hours=1)  # windows older than this are deleted (longest window: minutes)
PURGE_ONE_IN = 200  # new windows that also delete the old ones
# PostgreSQL commits a count without waiting for its WAL flush (0.2-0.3 ms against 1.5-2.5 ms a
# check on this machine's database): losing the last counts in a crash only lets a few more in.
ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


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

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._rng = random.Random()  # noqa: S311 - when to tidy up, not a secret

    def count(
        self, name: str, key: str, window: dt.timedelta, now: dt.datetime
    ) -> tuple[dt.datetime, int]:
        seconds = max(int(window.total_seconds()), 1)
        started = int(now.timestamp()) // seconds * seconds
        with unit_of_work(self._sessions) as session:
            on_postgresql = session.get_bind().dialect.name == "postgresql"
            if on_postgresql:  # a count lost in a crash lets one request more in: no fsync wait
                session.execute(ASYNC_COMMIT)
            dialect = postgresql if on_postgresql else sqlite
            table = RateWindow.__table__
            statement = dialect.insert(table).values(name=name, key=key, started=started, count=1)
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.name, table.c.key, table.c.started],
                set_={"count": table.c.count + 1},
            ).returning(table.c.count)
            count = int(session.execute(statement).scalar_one())
            if count == 1 and self._rng.randrange(PURGE_ONE_IN) == 0:
                old = int((now - KEEP).timestamp())
                session.execute(delete(RateWindow).where(RateWindow.started < old))
        return dt.datetime.fromtimestamp(started, dt.UTC), count
