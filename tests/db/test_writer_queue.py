"""SQLite writers of one process take their turns in the order they asked (db.session.WriterQueue),
give up like SQLite's busy timeout when they wait too long, and end their turn however their
transaction ends; snapshot readers never queue."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import text

from dealchat.db.session import (
    WriterQueue,
    make_engine,
    make_session_factory,
    reading,
    unit_of_work,
)


def _waiting(queue: WriterQueue, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(queue._waiting) < count:
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_writers_are_served_in_the_order_they_asked() -> None:
    queue, served = WriterQueue(), []
    queue.enter()

    def writer(name: str) -> None:
        queue.enter()
        served.append(name)
        queue.leave()

    threads = []
    for number, name in enumerate("BCDEFG", start=1):
        thread = threading.Thread(target=writer, args=(name,))
        thread.start()
        threads.append(thread)
        _waiting(queue, number)
    queue.leave()
    for thread in threads:
        thread.join(5)
    assert served == list("BCDEFG")


def test_a_writer_that_waits_too_long_gives_up_and_the_rest_go_on() -> None:
    queue = WriterQueue(timeout=0.2)
    queue.enter()
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        queue.enter()
    later = threading.Thread(target=lambda: (queue.enter(), queue.leave()))
    later.start()
    _waiting(queue, 1)
    queue.leave()
    later.join(5)
    assert not later.is_alive()
    assert len(queue._waiting) == 0


def test_many_threads_write_in_turn_and_a_failed_transaction_ends_its_turn(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'q.db'}")
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        session.execute(text("CREATE TABLE n (writer INTEGER, k INTEGER)"))

    def work(writer: int) -> None:
        for k in range(20):
            with unit_of_work(sessions) as session:
                session.execute(text("INSERT INTO n VALUES (:w, :k)"), {"w": writer, "k": k})

    def failing() -> None:
        with unit_of_work(sessions) as session:
            session.execute(text("INSERT INTO n VALUES (-1, -1)"))
            raise RuntimeError("the route failed")

    with pytest.raises(RuntimeError):
        failing()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(work, range(16)))
    with unit_of_work(sessions) as session:
        assert session.execute(text("SELECT count(*), min(writer) FROM n")).one() == (320, 0)
    engine.dispose()


def test_a_snapshot_reader_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        session.execute(text("CREATE TABLE n (k INTEGER)"))
    with unit_of_work(sessions) as writing:
        writing.execute(text("INSERT INTO n VALUES (1)"))
        with reading(sessions) as snapshot:  # same thread, writer's turn held: no wait
            assert snapshot.execute(text("SELECT count(*) FROM n")).scalar_one() == 0
    engine.dispose()
