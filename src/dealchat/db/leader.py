"""One leader among every process and node on one database, for the jobs that must run once.

The checkpointer and the witnesses (one signer of the log's checkpoints), the RFQ sweeper, the
directory sync, the FIX sessions (a counterparty takes one logon per CompID pair), the outbox
dispatcher (whose per-platform token buckets are then the only ones, unless a bus lets every
node send, channels/bus_deliveries.py) and the Matrix bot run in
the leader only. Leadership is a lock the database or the host releases when its holder dies:

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`, keyed by the database
  and schema) held on one connection kept for it, so it also covers several nodes;
- SQLite (one host by nature): an exclusive `flock` on `<data dir>/leader.lock`.

Every `dealchat serve` process asks at start; the others ask again every `retry_seconds` and the
first to get the lock after the leader died starts the jobs. A leader that loses its PostgreSQL
connection (so the lock may be someone else's already) stops its process with SIGTERM rather
than run the jobs beside a new leader; the service manager starts it again as a follower.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("dealchat.leader")

# One lock per database and schema (tests give each PostgreSQL test a schema of its own).
KEY = "hashtextextended(current_database() || '/dealchat-leader/' || current_schema(), 0)"
TRY_LOCK = text(f"SELECT pg_try_advisory_lock({KEY})")
UNLOCK = text(f"SELECT pg_advisory_unlock({KEY})")


class Leadership:
    def __init__(
        self,
        engine: Engine,
        data_dir: Path,
        *,
        on_elected: Callable[[], None],
        retry_seconds: float = 5.0,
    ) -> None:
        self._engine = engine
        self._path = data_dir / "leader.lock"
        self._on_elected = on_elected
        self._retry = retry_seconds
        self._connection: Connection | None = None
        self._fd: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leader = False

    def start(self) -> Leadership:
        """Ask once now (the leader starts its jobs before serving); keep asking, or keep the
        lock's connection checked, on a thread."""
        self._elect()
        self._thread = threading.Thread(target=self._run, name="leadership", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._release()

    def _run(self) -> None:
        while not self._stop.wait(self._retry):
            if not self.leader:
                self._elect()
            elif not self._still_held():
                log.critical("the leader lost its database connection: stopping this process")
                os.kill(os.getpid(), signal.SIGTERM)
                return

    def _elect(self) -> None:
        try:
            won = self._try_lock()
        except Exception:  # the database is away: ask again later
            log.exception("asking for leadership failed")
            return
        if won:
            self.leader = True
            log.info("this process leads: it runs the jobs that run once")
            self._on_elected()

    def _try_lock(self) -> bool:
        if self._engine.dialect.name == "postgresql":
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            held = connection.execute(TRY_LOCK)
            if held.scalar_one():
                self._connection = connection
                return True
            connection.close()
            return False
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _still_held(self) -> bool:
        if self._connection is None:
            return True  # a flock lasts as long as this process
        try:
            self._connection.execute(text("SELECT 1"))
        except Exception:  # any failure: the session, and the lock, may be gone
            return False
        return True

    def _release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.execute(UNLOCK)
                self._connection.close()
            self._connection = None
        if self._fd is not None:
            os.close(self._fd)  # the flock goes with it
            self._fd = None
