"""A checkpoint witness (C2SP tlog-witness): its own key, its own append-only file, no database.

`Witness.add_checkpoint` takes an add-checkpoint request and, for a log it knows (by origin and
verifier key), cosigns the checkpoint only if it is signed by that log and consistent with the
last checkpoint it cosigned for that origin: the old size must be the size it holds (else 409
with that size), an equal size must have the same root (else 409), and the RFC 6962 consistency
proof from its stored root must verify (else 422). Checking and recording happen under one lock
(a thread lock and an exclusive `flock` on the file, so two processes sharing a folder are safe
too), and the record is on disk (fsync) before the cosignature leaves.

The folder holds `witness.key` (the Ed25519 seed, 0600, made on first use), `checkpoints.jsonl`
(one JSON line per cosigned checkpoint, each naming the SHA-256 of the line before it, so a line
changed or removed in the middle is found when the file is read) and `refused.jsonl` (requests
refused for inconsistency, kept as possible evidence of a misbehaving log). Deployed as
`dealchat witness serve` (HTTP, on its own host) or, for the simplest deployments, opened by the
platform itself on a folder another system keeps append-only (`records.witnessing`).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dealchat.records import merkle
from dealchat.records.cosignature import AddCheckpoint, Cosigner, CosignerKey, split_note
from dealchat.records.keys import load_or_create_key
from dealchat.records.notes import Keyring, NoteError, Verifier, open_checkpoint

KEY_FILE = "witness.key"
LOG_FILE = "checkpoints.jsonl"
REFUSED_FILE = "refused.jsonl"
_GENESIS = "0" * 64


class RefusalError(Exception):
    """The witness does not cosign: HTTP status, reason, and for 409 the size it holds."""

    def __init__(self, status: int, reason: str, *, size: int | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.size = status, reason, size


class WitnessFileError(RuntimeError):
    """The witness's own file is damaged: it must not cosign anything until an operator looks."""


@dataclass(frozen=True)
class Latest:
    origin: str
    size: int
    root: bytes
    note: str  # the checkpoint as cosigned: the log's signature and this witness's cosignature


def load_cosigner(directory: Path, name: str) -> Cosigner:
    """The witness's key, generated (0600, in a 0700 folder) on first use."""
    seed = load_or_create_key(directory / KEY_FILE)
    return Cosigner(name, Ed25519PrivateKey.from_private_bytes(seed))


def log_keys(vkeys: Iterable[str]) -> dict[str, Keyring]:
    """The logs a witness accepts: origin -> the log's verifier keys (each vkey's name is the
    log's origin, as dealchat's checkpoints are signed)."""
    found: dict[str, list[Verifier]] = {}
    for text in vkeys:
        verifier = Verifier.from_vkey(text)
        found.setdefault(verifier.name, []).append(verifier)
    return {origin: Keyring(verifiers) for origin, verifiers in found.items()}


class Witness:
    def __init__(self, directory: Path, *, name: str, logs: dict[str, Keyring]) -> None:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory = directory
        self.cosigner = load_cosigner(directory, name)
        self.logs = logs
        self._path = directory / LOG_FILE
        self._lock = threading.Lock()
        self._latest: dict[str, Latest] = {}
        self._read_to = 0  # bytes of the file already read
        self._last_line = _GENESIS  # SHA-256 of the last line read
        with self._locked():
            pass  # read (and check) the whole file now: a damaged one fails at start

    @property
    def key(self) -> CosignerKey:
        return self.cosigner.key

    def latest(self, origin: str) -> Latest | None:
        with self._locked():
            return self._latest.get(origin)

    def add_checkpoint(self, request: AddCheckpoint, *, now: float | None = None) -> str:
        """This witness's cosignature line for the request's checkpoint, or `RefusalError`."""
        body, _lines = _split(request.note)
        origin = body.split("\n", 1)[0]
        keys = self.logs.get(origin)
        if keys is None:
            raise RefusalError(404, f"unknown log {origin!r}")
        try:
            checkpoint = open_checkpoint(request.note, keys)
        except NoteError as error:
            raise RefusalError(403, f"not signed by a known key of {origin}: {error}") from error
        if request.old_size > checkpoint.size:
            raise RefusalError(400, "the old size is larger than the checkpoint's size")
        with self._locked():
            held = self._latest.get(origin)
            held_size = held.size if held is not None else 0
            if request.old_size != held_size:
                raise RefusalError(409, f"the latest cosigned size is {held_size}", size=held_size)
            if held is not None and held.size == checkpoint.size:
                if held.root != checkpoint.root:
                    self._refused(request, "another root at the same size")
                    raise RefusalError(
                        409, "another root at the size already cosigned", size=held_size
                    )
            elif not merkle.verify_consistency(
                held_size,
                checkpoint.size,
                held.root if held is not None else merkle.EMPTY_ROOT,
                checkpoint.root,
                request.proof,
            ):
                self._refused(request, "the consistency proof does not verify")
                raise RefusalError(422, "the consistency proof does not verify")
            timestamp = int(time.time() if now is None else now)
            line = self.cosigner.cosign(body, timestamp)
            if held is None or held.size != checkpoint.size:
                self._append(Latest(origin, checkpoint.size, checkpoint.root, request.note + line))
            return line

    # ---- the append-only file ----

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """The thread lock and an exclusive flock on the file, caught up with what other
        processes appended; the flock goes with the file's closing."""
        with self._lock:
            fd = os.open(self._path, os.O_RDONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "rb") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                self._catch_up(handle)
                yield

    def _catch_up(self, handle: Any) -> None:
        """Read the lines appended since the last read (by this or another process)."""
        handle.seek(self._read_to)
        for raw in handle:
            if not raw.endswith(b"\n"):
                raise WitnessFileError(f"{self._path} ends in a partial line")
            try:
                record = json.loads(raw)
            except ValueError as error:
                raise WitnessFileError(f"{self._path}: a line is not JSON") from error
            if record.get("prev") != self._last_line:
                raise WitnessFileError(f"{self._path}: a line was changed or removed before it")
            self._last_line = hashlib.sha256(raw).hexdigest()
            self._latest[record["origin"]] = Latest(
                record["origin"], int(record["size"]), base64.b64decode(record["root"]),
                record["note"],
            )  # fmt: skip
            self._read_to += len(raw)

    def _append(self, latest: Latest) -> None:
        record = {
            "origin": latest.origin,
            "size": latest.size,
            "root": base64.b64encode(latest.root).decode("ascii"),
            "note": latest.note,
            "at": int(time.time()),
            "prev": self._last_line,
        }
        raw = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        _append_synced(self._path, raw)
        self._last_line = hashlib.sha256(raw).hexdigest()
        self._read_to += len(raw)
        self._latest[latest.origin] = latest

    def _refused(self, request: AddCheckpoint, reason: str) -> None:
        record = {"at": int(time.time()), "reason": reason, "old": request.old_size,
                  "note": request.note}  # fmt: skip
        _append_synced(self.directory / REFUSED_FILE, json.dumps(record).encode() + b"\n")


def _append_synced(path: Path, raw: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, raw)
        os.fsync(fd)
    finally:
        os.close(fd)


def _split(note: str) -> tuple[str, list[str]]:
    try:
        return split_note(note)
    except NoteError as error:
        raise RefusalError(400, str(error)) from error
