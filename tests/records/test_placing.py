"""Entries placed in the tree at commit, without a global lock in the request path.

A transaction's entries are placed by its own commit when no other transaction is placing; on
PostgreSQL a commit that finds the placer's advisory lock taken queues them (`audit_queue`) and
places the queue right after, so no entry is lost, duplicated or misordered, and a placer killed
half-way leaves the queue for the next one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db.session import make_engine, make_session_factory, unit_of_work
from dealchat.records import service
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry, AuditQueue
from dealchat.records.service import (
    PLACER_LOCK,
    pending,
    place_queued,
    record,
    stream_entries,
    tree_size,
    verify,
)

POSTGRES_ONLY = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def _note(session: Session, subject: str, number: int) -> None:
    record(session, event=AuditEvent.ORDER_FILLED, actor="lp", subject=subject,
           payload={"n": number})  # fmt: skip


def _numbers(session: Session, subject: str) -> list[int]:
    import json  # noqa: PLC0415 - test helper

    return [json.loads(fields.payload)["n"] for fields in stream_entries(session, subject)]


def _fail_after(block: Any, session: Session | None, number: int) -> None:
    with block as entered:
        _note(session or entered, "order:a", number)
        raise RuntimeError


def test_a_savepoint_rolled_back_takes_its_entries_along(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        _note(session, "order:a", 1)
        with pytest.raises(RuntimeError):
            _fail_after(session.begin_nested(), session, 2)
        with session.begin_nested():
            _note(session, "order:a", 3)
        assert [e.subject for e in pending(session)] == ["order:a", "order:a"]
    with pytest.raises(RuntimeError):
        _fail_after(unit_of_work(sessions), None, 4)
    with unit_of_work(sessions) as session:
        assert _numbers(session, "order:a") == [1, 3]
        assert verify(session).ok


@POSTGRES_ONLY
def test_a_commit_that_finds_the_placer_busy_queues_and_then_places(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        _note(session, "order:b", 1)
    holder = engine.connect()
    holder.begin()
    holder.exec_driver_sql("SELECT " + PLACER_LOCK.format("pg_advisory_xact_lock"))
    writer = threading.Thread(target=_write, args=(sessions, "order:b", [2, 3]))
    writer.start()
    queued = _wait_for_queue(holder, 2)
    assert queued == 2  # committed in the queue,
    assert _size(holder) == 1  # not yet in the tree
    assert writer.is_alive()  # waiting for the placer's lock before it answers
    holder.rollback()
    holder.close()
    writer.join(10)
    assert not writer.is_alive()
    with unit_of_work(sessions) as session:
        assert tree_size(session) == 3
        assert session.scalar(select(func.count()).select_from(AuditQueue)) == 0
        assert _numbers(session, "order:b") == [1, 2, 3]
        assert verify(session).ok


def _write(sessions: sessionmaker[Session], subject: str, numbers: list[int]) -> None:
    with unit_of_work(sessions) as session:
        for number in numbers:
            _note(session, subject, number)


def _wait_for_queue(connection: object, count: int) -> int:
    found = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and found < count:
        found = connection.exec_driver_sql("SELECT count(*) FROM audit_queue").scalar()  # type: ignore[attr-defined]
        time.sleep(0.02)
    return int(found)


def _size(connection: object) -> int:
    return int(connection.exec_driver_sql("SELECT seq FROM audit_head").scalar())  # type: ignore[attr-defined]


@POSTGRES_ONLY
def test_32_concurrent_writers_lose_duplicate_and_misorder_nothing(
    database_url: str, engine: Engine
) -> None:
    wide = make_engine(database_url)  # a pool as wide as the writers, like a busy server
    wide.pool._pool.maxsize = 40  # type: ignore[attr-defined]
    sessions = make_session_factory(wide)
    writers, rounds = 32, 15

    def write(number: int) -> None:
        for turn in range(rounds):
            with unit_of_work(sessions) as session:
                _note(session, f"order:w{number}", 2 * turn)
                _note(session, "order:shared", number * 1000 + turn)
                _note(session, f"order:w{number}", 2 * turn + 1)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    with unit_of_work(sessions) as session:
        assert tree_size(session) == writers * rounds * 3
        assert session.scalar(select(func.count()).select_from(AuditQueue)) == 0
        for number in range(writers):
            assert _numbers(session, f"order:w{number}") == list(range(2 * rounds))
        shared = _numbers(session, "order:shared")
        assert sorted(shared) == sorted(n * 1000 + t for n in range(writers) for t in range(rounds))
        for number in range(writers):  # each writer's own turns in order in the shared stream
            mine = [value for value in shared if value // 1000 == number]
            assert mine == sorted(mine)
        assert verify(session).ok
    wide.dispose()


_KILLED_PLACER = """
import sys, time
from sqlalchemy.orm import Session
from dealchat.db.session import make_engine
from dealchat.records import service

engine = make_engine(sys.argv[1])
with Session(engine) as session, session.begin():
    service._take_lock(session, wait=True)
    service._place(session, ())  # entries, nodes, streams and head written, not committed
    print("placed", flush=True)
    time.sleep(60)
"""


@POSTGRES_ONLY
def test_a_placer_killed_half_way_leaves_the_queue_to_the_next(
    database_url: str, engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with unit_of_work(sessions) as session:
        _note(session, "order:k", 0)
    with engine.begin() as connection:  # committed by others while a placer held the lock
        connection.exec_driver_sql(
            "INSERT INTO audit_queue (at, event, actor, subject, payload) "
            "SELECT 1765000000000000 + n, 'order:filled', 'lp', 'order:k', '{\"n\":' || n || '}' "
            "FROM generate_series(1, 40) AS n"
        )
    url = engine.url.render_as_string(hide_password=False)
    placer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_PLACER), url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    assert placer.stdout is not None
    assert placer.stdout.readline().strip() == "placed"
    os.kill(placer.pid, signal.SIGKILL)
    placer.wait(10)
    placer.stdout.close()
    with unit_of_work(sessions) as session:
        placed = 0
        deadline = time.monotonic() + 10
        while placed == 0 and time.monotonic() < deadline:  # until the server ends its backend
            placed = place_queued(session)
            if placed == 0:
                session.rollback()
                time.sleep(0.1)
        assert placed == 40
    with unit_of_work(sessions) as session:
        assert tree_size(session) == 41
        assert _numbers(session, "order:k") == list(range(41))
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == 41
        assert verify(session).ok


@POSTGRES_ONLY
@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "several"])
def test_placing_writes_the_same_in_one_statement_or_in_several(
    engine: Engine, sessions: sessionmaker[Session], monkeypatch: Any, one_statement: bool
) -> None:
    """PostgreSQL places in one statement (CTEs) while its parameters fit, else table by table,
    in batches: the same tree, streams, nodes and empty queue either way."""
    if not one_statement:
        monkeypatch.setattr(service, "ONE_STATEMENT_PARAMETERS", 0)
        monkeypatch.setattr(service, "ROWS_PER_STATEMENT", 7)
    with unit_of_work(sessions) as session:
        for number in range(3):
            _note(session, f"order:{number % 2}", number)
    with engine.begin() as connection:  # 40 committed in the queue by others
        connection.exec_driver_sql(
            "INSERT INTO audit_queue (at, event, actor, subject, payload) "
            "SELECT 1765000000000000 + n, 'order:filled', 'lp', 'order:' || (n %% 2), "
            "'{\"n\":' || (n + 2) || '}' FROM generate_series(1, 40) AS n"
        )
    with unit_of_work(sessions) as session:
        assert place_queued(session) == 40
    with unit_of_work(sessions) as session:
        assert tree_size(session) == 43
        assert session.scalar(select(func.count()).select_from(AuditQueue)) == 0
        assert _numbers(session, "order:0") == list(range(0, 43, 2))
        assert _numbers(session, "order:1") == list(range(1, 43, 2))
        assert verify(session).ok


def test_queued_rows_are_never_changed(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_queue (at, event, actor, subject, payload) "
                "VALUES (1, 'order:filled', 'lp', 'order:x', '{}')"
            )
        )
    with pytest.raises(Exception, match="never changed"), engine.begin() as connection:
        connection.exec_driver_sql("UPDATE audit_queue SET payload = 'forged'")
