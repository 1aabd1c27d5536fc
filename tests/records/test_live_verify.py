"""Verify on a live database: one consistent snapshot, and no writer waits for it.

Before, `dealchat audit verify` ran in an ordinary unit of work: on PostgreSQL (READ COMMITTED)
a checkpoint committed after it had read the entries made it report "entries after N are
missing"; on SQLite it held the write lock for the whole run, so chat traffic waited on it, and
`/healthz` took the write lock too.
"""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy import text

from dealchat.api.deps import Platform
from dealchat.db.session import reading, unit_of_work
from dealchat.records.checkpoints import CheckpointKeys, create_checkpoint
from dealchat.records.events import AuditEvent
from dealchat.records.service import NewEntry, append, tree_size
from dealchat.records.verify import verify_log


def _grow(platform: Platform, keys: CheckpointKeys, count: int) -> None:
    entries = [NewEntry(AuditEvent.MESSAGE_RECEIVED, "client", "conversation:c", {"n": i})
               for i in range(count)]  # fmt: skip
    with unit_of_work(platform.sessions) as session:
        append(session, entries=entries)
    with unit_of_work(platform.sessions) as session:
        create_checkpoint(session, keys=keys)


def _in_thread(work: threading.Thread, *, within: float) -> float:
    started = time.monotonic()
    work.start()
    work.join(timeout=within)
    assert not work.is_alive(), f"the writer still waits after {within} s"
    return time.monotonic() - started


def test_verify_reads_one_snapshot_while_entries_and_checkpoints_land(
    platform: Platform,
) -> None:
    keys = CheckpointKeys.load(platform.settings.keys_dir, platform.settings.records.origin)
    _grow(platform, keys, 40)
    with reading(platform.sessions) as session:
        size = tree_size(session)  # the snapshot is taken here
        # chat traffic goes on meanwhile: entries and a checkpoint over them commit at once
        _in_thread(threading.Thread(target=_grow, args=(platform, keys, 25)), within=10)
        result = verify_log(session, keys=keys.keyring, chunk_level=4)
        assert (result.ok, result.checked, result.problem) == (True, size, None)
    with reading(platform.sessions) as session:
        assert verify_log(session, keys=keys.keyring).checked == size + 25


def test_health_checks_never_take_the_write_lock(client: TestClient, platform: Platform) -> None:
    with unit_of_work(platform.sessions) as session:  # a writer holds its lock (SQLite: BEGIN
        session.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))  # IMMEDIATE)
        answered: list[int] = []
        waited = _in_thread(
            threading.Thread(target=lambda: answered.append(client.get("/healthz").status_code)),
            within=5,
        )
    assert answered == [200]
    assert waited < 5
