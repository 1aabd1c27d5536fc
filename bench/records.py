"""The audit log against pymerkle's SqliteTree, side by side in one run, on the same 205-byte
records.

Writes bench/results/records.json. Both stores are SQLite files with fsync on (ours: WAL,
synchronous=FULL; pymerkle: its defaults, rollback journal, synchronous=FULL):

- durable appends/s: the whole log is built in batches of BATCH records, one commit each, with the
  engine `dealchat serve` uses (`db.session.make_engine`: WAL, synchronous=FULL, BEGIN IMMEDIATE);
- inclusion proofs/s at SIZE entries: PROOFS random leaves, proofs against the current size, in
  one transaction, starting with the process's cache of stored nodes empty (the first proof loads
  the tree's upper levels into it, later ones keep what they read); 10,000 of them, as 3,000
  (0.3 s) moved by a quarter from run to run on the shared machine;
- full verification entries/s: ours re-derives everything (`records.verify`: leaf hashes from the
  entries, streams, every stored node, head, checkpoint signatures), as `dealchat audit verify`
  runs it (one worker process per CPU, at most 4) and in one process; pymerkle has no verifier,
  its baseline is recomputing its root from its stored leaf hashes (no entry is re-hashed);
- bytes of overhead per record: everything in the database file beyond the 205 bytes of each
  record (file size / entries - 205, after folding the WAL back in): the row's own number and
  time, SQLite's row and page overhead, indexes, and the log's structures. For ours also the
  log's own share: our file minus the same rows (same columns, same `at` as microseconds, same
  index) in a plain table, i.e. the stream link, the leaf hash, stored nodes and stream heads;
- entry-to-signed-checkpoint latency: commit of one entry to a signed checkpoint covering it,
  with the checkpointer of `dealchat serve` (interval 0.5 s); and, in the same run, to a witness's
  cosignature of such a checkpoint stored by the platform (`dealchat witness serve`'s app on a
  loopback port, called over HTTP by the witnessing thread the checkpointer wakes), with its p95
  over the signed one's (target: cosigned p95 <= 1 s). `python bench/records.py --latency`
  measures these two again alone and updates them in records.json.

`DEALCHAT_BENCH_RECORDS=200000 make bench` runs a smaller log (the default is 1,000,000).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from pymerkle import SqliteTree
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dealchat.db import migrate
from dealchat.db.session import make_engine, make_session_factory, unit_of_work
from dealchat.records.checkpoints import Checkpointer, CheckpointKeys, create_checkpoint
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditCosignature
from dealchat.records.service import NewEntry, append, inclusion_proof, latest_checkpoint
from dealchat.records.verify import default_workers, verify_log
from dealchat.records.witness import Witness
from dealchat.records.witness_http import HttpWitness, create_witness_app
from dealchat.records.witnessing import Witnessing

HERE = Path(__file__).resolve().parent
SIZE = int(os.environ.get("DEALCHAT_BENCH_RECORDS", "1000000"))
BATCH = 1000
PROOFS = 10_000
RECORD = 205
TARGETS = {"appends_per_s": 20_000, "proofs_per_s": 10_000, "verify_per_s": 200_000}
EVENT, ACTOR = AuditEvent.MESSAGE_RECEIVED, "client:0f3a9c"


def record(i: int) -> NewEntry:
    """A 205-byte record: event, actor, subject and the payload's JSON text add up to RECORD."""
    subject = f"conversation:{i % 5000:06d}"
    fixed = len(EVENT.value) + len(ACTOR) + len(subject) + len('{"text":""}')
    text = (f"msg {i} " * 40)[: RECORD - fixed]
    return NewEntry(EVENT, ACTOR, subject, {"text": text})


def raw(item: NewEntry) -> bytes:
    body = json.dumps(item.payload, separators=(",", ":"), sort_keys=True)
    data = f"{item.event.value}{item.actor}{item.subject}{body}".encode()
    assert len(data) == RECORD, len(data)
    return data


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def build_ours(engine: Engine) -> float:
    sessions = make_session_factory(engine)

    def load() -> None:
        for start in range(0, SIZE, BATCH):
            with unit_of_work(sessions) as session:
                append(session, entries=[record(i) for i in range(start, start + BATCH)])

    return SIZE / timed(load)


def build_pymerkle(tree: SqliteTree) -> float:
    def load() -> None:
        for start in range(0, SIZE, BATCH):
            tree.append_entries([raw(record(i)) for i in range(start, start + BATCH)])

    return SIZE / timed(load)


def proofs_ours(engine: Engine, leaves: list[int]) -> float:
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        return len(leaves) / timed(lambda: [inclusion_proof(session, i + 1) for i in leaves])


def proofs_pymerkle(tree: SqliteTree, leaves: list[int]) -> float:
    return len(leaves) / timed(lambda: [tree.prove_inclusion(i + 1, SIZE) for i in leaves])


def verify_ours(engine: Engine, keys: CheckpointKeys, workers: int) -> float:
    sessions = make_session_factory(engine)
    with unit_of_work(sessions) as session:
        create_checkpoint(session, keys=keys)
    with unit_of_work(sessions) as session:
        started = time.perf_counter()
        result = verify_log(session, keys=keys.keyring, workers=workers)
        elapsed = time.perf_counter() - started
    if not result.ok or result.checked != SIZE:
        raise SystemExit(f"verification failed: {result}")
    return SIZE / elapsed


def verify_pymerkle(tree: SqliteTree) -> float:
    tree.cache_clear()
    return SIZE / timed(lambda: tree._get_root_naive(0, SIZE))  # the uncached root


def checkpoint_latency(
    folder: Path, keys: CheckpointKeys, samples: int = 30, *, witness_url: str | None = None
) -> dict[str, float]:
    """Commit of one entry to a signed checkpoint covering it, with the serve checkpointer; with
    `witness_url`, to the witness's cosignature of such a checkpoint stored by the platform
    (the checkpointer wakes the witnessing thread, which calls the witness over HTTP)."""
    name = "cosigned" if witness_url else "signed"
    engine = make_engine(f"sqlite:///{folder / f'latency-{name}.db'}")
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    witnesses = [] if witness_url is None else [HttpWitness(witness_url, _WITNESS.key)]
    witnessing = Witnessing(sessions, witnesses=witnesses)
    checkpointer = Checkpointer(sessions, keys=keys, interval=0.5, on_signed=witnessing.wake)
    witnessing.start()
    checkpointer.start()
    waits, pause = [], threading.Event()
    covered = _cosigned_size if witness_url else _signed_size
    try:
        for i in range(samples):
            pause.wait(random.uniform(0.05, 0.6))
            with unit_of_work(sessions) as session:
                seq = append(session, entries=[record(i)])[0].seq
            committed = time.perf_counter()
            while True:
                with unit_of_work(sessions) as session:
                    if covered(session) >= seq:
                        break
                pause.wait(0.002)
            waits.append((time.perf_counter() - committed) * 1000)
    finally:
        checkpointer.stop()
        witnessing.stop()
        engine.dispose()
    return {
        "median_ms": round(statistics.median(waits), 1),
        "p95_ms": round(statistics.quantiles(waits, n=20)[18], 1),
        "max_ms": round(max(waits), 1),
    }


def _signed_size(session: Session) -> int:
    latest = latest_checkpoint(session)
    return 0 if latest is None else latest.size


def _cosigned_size(session: Session) -> int:
    return int(session.scalar(select(func.max(AuditCosignature.size))) or 0)


_WITNESS: Witness  # set by `served_witness`


@contextmanager
def served_witness(folder: Path, keys: CheckpointKeys) -> Iterator[str]:
    """A witness (`dealchat witness serve`'s app) on a loopback port, in this process."""
    global _WITNESS  # noqa: PLW0603 - one witness per run
    _WITNESS = Witness(
        folder / "witness", name="bench.witness/w1", logs={keys.origin: keys.keyring}
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_witness_app(_WITNESS), host="127.0.0.1", port=port,
                            log_config=None, access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def latencies(folder: Path, keys: CheckpointKeys) -> dict[str, dict[str, float]]:
    """Both latencies in one run: signed (the baseline) and cosigned by a witness over HTTP."""
    signed = checkpoint_latency(folder, keys)
    with served_witness(folder, keys) as url:
        cosigned = checkpoint_latency(folder, keys, witness_url=url)
    cosigned["p95_over_signed_p95"] = round(cosigned["p95_ms"] / signed["p95_ms"], 2)
    return {"checkpoint_latency": signed, "cosigned_checkpoint_latency": cosigned}


def _size_of(path: Path) -> int:
    with sqlite3.connect(path) as connection:  # fold the write-ahead log back in first
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def plain_table(path: Path) -> None:
    """The same rows stored the same way (`at` as microseconds, the one partial index on access
    decisions) with no log structure: what the log adds is our file minus this one."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE audit_entry (seq INTEGER PRIMARY KEY, at BIGINT, event VARCHAR(64), "
            "actor VARCHAR(200), subject VARCHAR(200), payload TEXT)"
        )
        connection.execute(
            "CREATE INDEX ix_access ON audit_entry (event) "
            "WHERE event IN ('access:allowed', 'access:denied')"
        )
        at = 1_795_536_000_123_456  # 2026-11-24 16:00:00.123456 UTC
        for start in range(0, SIZE, BATCH):
            rows = []
            for i in range(start, start + BATCH):
                item = record(i)
                body = json.dumps(item.payload, separators=(",", ":"), sort_keys=True)
                rows.append((i + 1, at, item.event.value, item.actor, item.subject, body))
            connection.executemany("INSERT INTO audit_entry VALUES (?, ?, ?, ?, ?, ?)", rows)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="records-bench-") as tmp:
        folder = Path(tmp)
        keys = CheckpointKeys.load(folder / "keys", "bench.dealchat/audit")
        ours_path, theirs_path = folder / "ours.db", folder / "pymerkle.db"
        engine = make_engine(f"sqlite:///{ours_path}")
        migrate.upgrade(engine)
        tree = SqliteTree(str(theirs_path))
        figures: dict[str, dict[str, object]] = {"ours": {}, "pymerkle": {}}
        figures["ours"]["appends_per_s"] = round(build_ours(engine))
        print(f"built ours: {figures['ours']['appends_per_s']}/s", file=sys.stderr)
        figures["pymerkle"]["appends_per_s"] = round(build_pymerkle(tree))
        leaves = [random.randrange(SIZE) for _ in range(PROOFS)]
        figures["ours"]["proofs_per_s"] = round(proofs_ours(engine, leaves))
        figures["pymerkle"]["proofs_per_s"] = round(proofs_pymerkle(tree, leaves[:300]))
        workers = default_workers()
        figures["ours"]["verify_workers"] = workers
        figures["ours"]["verify_per_s"] = round(verify_ours(engine, keys, workers))
        figures["ours"]["verify_per_s_one_process"] = round(verify_ours(engine, keys, 1))
        figures["pymerkle"]["verify_per_s"] = round(verify_pymerkle(tree))
        engine.dispose()
        tree.close()
        plain_table(folder / "plain.db")
        for name, path in (
            ("ours", ours_path),
            ("pymerkle", theirs_path),
            ("plain", folder / "plain.db"),
        ):
            figures.setdefault(name, {})["overhead_bytes_per_record"] = round(
                _size_of(path) / SIZE - RECORD, 1
            )
        plain = float(figures.pop("plain")["overhead_bytes_per_record"])  # type: ignore[arg-type]
        figures["ours"]["log_overhead_bytes_per_record"] = round(
            float(figures["ours"]["overhead_bytes_per_record"]) - plain,
            1,  # type: ignore[arg-type]
        )
        latency = latencies(folder, keys)
    write(figures, latency)


def latency_only() -> None:
    """`--latency`: measure the two latencies again and update them alone in records.json."""
    with tempfile.TemporaryDirectory(prefix="records-bench-") as tmp:
        folder = Path(tmp)
        latency = latencies(folder, CheckpointKeys.load(folder / "keys", "bench.dealchat/audit"))
    out = HERE / "results" / "records.json"
    result = json.loads(out.read_text("utf-8"))
    result.update(latency)
    result["latency_when"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result["latency_load_1min"] = round(os.getloadavg()[0], 1)
    result["targets_met"].update(_latency_met(latency))
    out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(json.dumps(latency, indent=2))


def _latency_met(latency: dict[str, dict[str, float]]) -> dict[str, bool]:
    return {
        "checkpoint_within_1s": latency["checkpoint_latency"]["max_ms"] <= 1000,
        "cosigned_p95_within_1s": latency["cosigned_checkpoint_latency"]["p95_ms"] <= 1000,
    }


def write(figures: dict[str, dict[str, object]], latency: dict[str, dict[str, float]]) -> None:
    ours, theirs = figures["ours"], figures["pymerkle"]
    ratios = {
        key: round(float(ours[key]) / float(theirs[key]), 2)  # type: ignore[arg-type]
        for key in ("appends_per_s", "proofs_per_s", "verify_per_s")
    }
    met = {key: float(ours[key]) >= target for key, target in TARGETS.items()}  # type: ignore[arg-type]
    met["overhead_bytes_per_record"] = float(ours["overhead_bytes_per_record"]) <= 100  # type: ignore[arg-type]
    met["log_overhead_bytes_per_record"] = float(ours["log_overhead_bytes_per_record"]) <= 100  # type: ignore[arg-type]
    met.update(_latency_met(latency))
    result = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": sys.version.split()[0], "cpu": platform.machine(),
                    "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 1)},
        "entries": SIZE, "batch": BATCH, "record_bytes": RECORD,
        "ours": ours, "pymerkle_sqlitetree": theirs, "ours_over_pymerkle": ratios,
        **latency, "targets": TARGETS, "targets_met": met,
    }  # fmt: skip
    out = HERE / "results" / "records.json"
    out.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    latency_only() if "--latency" in sys.argv[1:] else main()
