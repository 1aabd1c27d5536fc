"""Signed checkpoints of the audit tree: made on demand and by a background checkpointer.

`create_checkpoint` signs the tree as the caller's transaction sees it (C2SP signed note, Ed25519)
and stores the note; nothing new is signed while the size has not moved. The `Checkpointer` thread,
started by `dealchat serve`, signs within `interval` seconds of new entries: an after-record hook
wakes it when a transaction with entries commits, and it also looks every `interval` seconds.
Once a new checkpoint has committed it calls `on_signed` (the witnessing wakes up and sends it to
the witnesses on its own thread: signing never waits on a witness).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db.base import utcnow
from dealchat.db.session import after_commit, unit_of_work
from dealchat.records import hooks
from dealchat.records.keys import load_keyring, load_signer
from dealchat.records.leaf import Queued
from dealchat.records.models import AuditCheckpoint, AuditHead
from dealchat.records.notes import Keyring, Signer, checkpoint_body, sign_note
from dealchat.records.service import place_queued

log = logging.getLogger("dealchat.records.checkpoints")


@dataclass(frozen=True)
class CheckpointKeys:
    """The log's origin line, the active signing key and every verifier key kept."""

    origin: str
    signer: Signer
    keyring: Keyring

    @classmethod
    def load(cls, keys_dir: Path, origin: str) -> CheckpointKeys:
        signer = load_signer(keys_dir, origin)
        return cls(origin, signer, load_keyring(keys_dir))


def create_checkpoint(session: Session, *, keys: CheckpointKeys) -> AuditCheckpoint | None:
    """Sign and store the current tree (in the caller's transaction); None for an empty log."""
    size, root = session.execute(
        select(AuditHead.seq, AuditHead.root).where(AuditHead.id == 1)
    ).one()
    size, root = int(size), bytes(root)
    if size == 0:
        return None
    existing = session.get(AuditCheckpoint, size)
    if existing is not None:
        return existing
    note = sign_note(checkpoint_body(keys.origin, size, root), [keys.signer])
    row = {"size": size, "root": root, "at": utcnow(), "note": note}
    session.execute(insert(AuditCheckpoint), [row])
    return session.get(AuditCheckpoint, size)


class Checkpointer:
    """Signs the tree at least every `interval` seconds while entries arrive."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        keys: CheckpointKeys,
        interval: float = 0.5,
        on_signed: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._keys = keys
        self._interval = interval
        self._on_signed = on_signed  # after a new checkpoint committed (wakes the witnessing)
        self._signed = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        hooks.install(sessions, self._on_record)

    def _on_record(self, session: Session, _entries: Sequence[Queued]) -> None:
        after_commit(session, self._wake.set)

    def run_once(self) -> AuditCheckpoint | None:
        try:
            with unit_of_work(self._sessions) as session:
                place_queued(session)  # what a crashed process left queued, if any
                signed = create_checkpoint(session, keys=self._keys)
        except IntegrityError:  # another process signed the same size first
            return None
        if signed is not None and signed.size > self._signed:
            self._signed = signed.size
            if self._on_signed is not None:
                self._on_signed()  # committed: nothing waits on what it does
        return signed

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.run_once()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # keep signing after a passing database error
                log.exception("checkpoint failed")
            # At most two checkpoints per interval: an entry waits at most half of it for the
            # next (plus the signing), and a busy log is not signed after every few entries.
            self._stop.wait(self._interval / 2)
