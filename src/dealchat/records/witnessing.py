"""Sending the log's signed checkpoints to its witnesses, in the background, after commit.

The checkpointer wakes `Witnessing` once a new checkpoint has committed. For each witness it reads
(in a snapshot, `db.session.reading`) the newest checkpoint and the consistency proof from the
size that witness last cosigned, sends them with no transaction open (so no chat message ever
waits on a witness), and stores the cosignature it gets back (`audit_cosignature`, append-only).
A witness holding another size answers 409 with it: the proof is made again from there, once.

A witness that cannot be reached is retried with a doubling wait (1 s to 60 s) and the log goes
on without it; going down and coming back are each one audit entry (`witness:failed`,
`witness:recovered`) and a log line, never one per retry. A witness that refuses the log's
checkpoint as inconsistent with what it cosigned before (a fork, or a rolled-back log) is an
alarm: `witness:refused` and an error in the log, asked again each minute.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from dealchat.db.base import utcnow
from dealchat.db.session import reading, unit_of_work
from dealchat.records.cosignature import CosignerKey
from dealchat.records.events import AuditEvent
from dealchat.records.interfaces import (
    CheckpointWitness,
    WitnessConflictError,
    WitnessRefusedLogError,
    WitnessUnavailableError,
)
from dealchat.records.models import AuditCosignature
from dealchat.records.notes import Keyring
from dealchat.records.service import consistency_proof, latest_checkpoint, record
from dealchat.records.witness import Witness
from dealchat.records.witness_http import HttpWitness, LocalWitness
from dealchat.settings import WitnessSettings

log = logging.getLogger("dealchat.records.witnessing")

FIRST_WAIT, LONGEST_WAIT = 1.0, 60.0


def build_witnesses(
    configured: Sequence[WitnessSettings], *, origin: str, keyring: Keyring
) -> list[CheckpointWitness]:
    """The witnesses settings name, each with the key settings trust for it."""
    built: list[CheckpointWitness] = []
    for entry in configured:
        key = CosignerKey.from_vkey(entry.key)
        if entry.url is not None:
            built.append(HttpWitness(entry.url, key, timeout=entry.timeout_seconds))
        else:
            assert entry.path is not None  # settings check one of the two is set
            local = Witness(entry.path, name=key.name, logs={origin: keyring})
            built.append(LocalWitness(local, key))
    return built


@dataclass
class _State:
    cosigned: int | None = None  # the size it last cosigned for this log (None: not read yet)
    failures: int = 0
    next_try: float = 0.0
    down: str | None = None  # why, while it cannot be reached
    down_since: float = 0.0
    refused: str | None = None  # why it refuses the log, while it does


class Witnessing:
    """Gets each new checkpoint cosigned by every witness, on its own thread."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        witnesses: Sequence[CheckpointWitness],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self.witnesses = list(witnesses)
        self._clock = clock
        self._states = {witness.name: _State() for witness in self.witnesses}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        self._wake.set()

    def status(self) -> dict[str, str]:
        """Each witness: the size it last cosigned, or why it is down or refusing."""
        shown = {}
        for name, state in self._states.items():
            shown[name] = state.refused or state.down or f"cosigned up to {state.cosigned}"
        return shown

    def run_once(self) -> None:
        """Send the newest checkpoint to every witness due, one after another."""
        if not self.witnesses:
            return
        with reading(self._sessions) as session:
            newest = latest_checkpoint(session)
            signed = None if newest is None else (newest.size, newest.note)
        if signed is None:
            return
        for witness in self.witnesses:
            state = self._states[witness.name]
            if self._clock() >= state.next_try:
                self._witness_one(witness, state, *signed)

    def _witness_one(self, witness: CheckpointWitness, state: _State, size: int, note: str) -> None:
        if state.cosigned is None:
            state.cosigned = self._stored_size(witness.name)
        if state.cosigned >= size:
            return
        try:
            old, line = self._submit(witness, state.cosigned, size, note)
        except WitnessUnavailableError as error:
            self._unreachable(witness, state, str(error))
            return
        except (WitnessConflictError, WitnessRefusedLogError) as error:
            self._refusing(witness, state, size, error)
            return
        self._store(witness.name, size, line)
        log.debug("witness %s cosigned %d (from %d)", witness.name, size, old)
        if state.down is not None or state.refused is not None:
            self._record(AuditEvent.WITNESS_RECOVERED, witness.name, {
                "cosigned": size, "down_seconds": round(self._clock() - state.down_since, 1),
            })  # fmt: skip
            log.warning("witness %s cosigns again (up to %d)", witness.name, size)
        state.cosigned, state.failures, state.next_try = size, 0, 0.0
        state.down = state.refused = None

    def _submit(
        self, witness: CheckpointWitness, old: int, size: int, note: str
    ) -> tuple[int, str]:
        """Send (old, proof, note); on a 409 naming a smaller size, once more from there."""
        for _attempt in range(2):
            with reading(self._sessions) as session:
                proof = consistency_proof(session, old_size=old, new_size=size)
            try:
                return old, witness.add_checkpoint(old, proof, note)
            except WitnessConflictError as conflict:
                if conflict.size > size or conflict.size == old:
                    raise
                old = conflict.size
        raise WitnessConflictError(old)

    def _unreachable(self, witness: CheckpointWitness, state: _State, why: str) -> None:
        state.failures += 1
        wait = min(LONGEST_WAIT, FIRST_WAIT * 2 ** (state.failures - 1))
        state.next_try = self._clock() + wait
        log.warning("witness %s unavailable (try %d, next in %.0f s): %s",
                    witness.name, state.failures, wait, why)  # fmt: skip
        if state.down is None:
            state.down, state.down_since = why, self._clock()
            self._record(AuditEvent.WITNESS_FAILED, witness.name, {"reason": why[:300]})

    def _refusing(
        self, witness: CheckpointWitness, state: _State, size: int, error: Exception
    ) -> None:
        if isinstance(error, WitnessConflictError) and error.size > size:
            why = (f"the witness cosigned {error.size} entries of this log, whose newest "
                   f"checkpoint covers {size}: the log was rolled back")  # fmt: skip
        else:
            why = f"the witness refuses the checkpoint at {size} as inconsistent: {error}"
        state.next_try = self._clock() + LONGEST_WAIT
        log.error("witness %s: %s", witness.name, why)
        if state.refused != why:
            state.refused = why
            if state.down is None:
                state.down_since = self._clock()
            self._record(AuditEvent.WITNESS_REFUSED, witness.name, {"reason": why[:300]})

    def _stored_size(self, name: str) -> int:
        with reading(self._sessions) as session:
            found = session.scalar(
                select(func.max(AuditCosignature.size)).where(AuditCosignature.witness == name)
            )
        return int(found or 0)

    def _store(self, name: str, size: int, line: str) -> None:
        row = AuditCosignature(size=size, witness=name, line=line.rstrip("\n"), at=utcnow())
        try:
            with unit_of_work(self._sessions) as session:
                session.add(row)
        except IntegrityError:  # another process stored this witness's cosignature first
            return

    def _record(self, event: AuditEvent, name: str, payload: dict[str, object]) -> None:
        try:
            with unit_of_work(self._sessions) as session:
                record(session, event=event, actor="system:witnessing",
                       subject=f"witness:{name}", payload=payload)  # fmt: skip
        except Exception:  # the database is down too: the log line above says it
            log.exception("could not record %s for witness %s", event.value, name)

    # ---- the thread ----

    def start(self) -> None:
        if not self.witnesses:
            return
        self._thread = threading.Thread(target=self._loop, name="witnessing", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            try:
                self.run_once()  # the last checkpoint, signed as the server stopped
            except Exception:
                log.exception("witnessing the last checkpoint failed")
        for witness in self.witnesses:
            witness.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(_poll_seconds(self._states.values(), self._clock()))
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_once()
            except Exception:  # keep witnessing after a passing database error
                log.exception("witnessing failed")


def _poll_seconds(states: Iterable[_State], now: float) -> float:
    """Until the next retry is due (at most a few seconds: new checkpoints also wake it)."""
    waits = [state.next_try - now for state in states if state.next_try > now]
    return max(0.05, min([5.0, *waits]))


def cosignature_lines(session: Session, size: int) -> list[str]:
    """The cosignatures stored for the checkpoint at `size`, by witness name."""
    rows = session.scalars(
        select(AuditCosignature.line)
        .where(AuditCosignature.size == size)
        .order_by(AuditCosignature.witness)
    )
    return list(rows)


def at_time(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).isoformat(timespec="seconds")
