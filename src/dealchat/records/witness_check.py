"""`dealchat audit verify` against the witnesses: the log must extend what each one cosigned.

Someone with write access to the database can delete the newest entries with the checkpoints that
cover them and recompute the head and the tree nodes: the log then re-derives cleanly, because
everything it is checked against lives in the same database. A witness's latest cosigned
checkpoint lives elsewhere. For each witness: its checkpoint must carry its valid cosignature (by
the key settings name) and the log's signature, and the log must hold at least that many entries
(else: a rollback) whose tree has exactly that root (else: a fork, history rewritten).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dealchat.records.cosignature import CosignerKey, split_note
from dealchat.records.interfaces import CheckpointWitness, WitnessUnavailableError
from dealchat.records.notes import Checkpoint, Keyring, NoteError, open_checkpoint
from dealchat.records.witnessing import at_time

OK, BEHIND, UNREACHABLE, TAMPERED = "ok", "behind", "unreachable", "tampered"


@dataclass(frozen=True)
class WitnessFinding:
    witness: str
    verdict: str  # OK, BEHIND (has cosigned nothing yet), UNREACHABLE or TAMPERED
    message: str


@dataclass(frozen=True)
class Cosigned:
    """A witness's latest checkpoint of this log, its cosignature and the log's signature valid."""

    witness: str
    checkpoint: Checkpoint
    when: str


def ask_witnesses(
    witnesses: Sequence[CheckpointWitness], *, origin: str, log_keys: Keyring
) -> list[Cosigned | WitnessFinding]:
    """Each witness's latest cosigned checkpoint, checked (no database: ask before the snapshot
    is taken, so a checkpoint cosigned meanwhile is in the log that is then read)."""
    return [_ask(witness, witness.key, origin, log_keys) for witness in witnesses]


def _ask(
    witness: CheckpointWitness, key: CosignerKey, origin: str, log_keys: Keyring
) -> Cosigned | WitnessFinding:
    name = witness.name
    try:
        note = witness.latest(origin)
    except WitnessUnavailableError as error:
        return WitnessFinding(name, UNREACHABLE, f"witness {name} could not be asked: {error}")
    if note is None:
        return WitnessFinding(name, BEHIND, f"witness {name} has cosigned nothing of {origin} yet")
    try:
        body, lines = split_note(note)
        checkpoint = open_checkpoint(note, log_keys)
    except NoteError as error:
        why = f"witness {name}'s checkpoint is not signed by this log's keys: {error}"
        return WitnessFinding(name, TAMPERED, why)
    cosigned = key.find(body, lines)
    if cosigned is None or checkpoint.origin != origin:
        why = f"witness {name}'s checkpoint carries no valid cosignature by its key"
        return WitnessFinding(name, TAMPERED, why)
    return Cosigned(name, checkpoint, at_time(cosigned[1]))


def wanted_roots(asked: Sequence[Cosigned | WitnessFinding]) -> frozenset[int]:
    """The sizes whose root `verify_log(roots_at=...)` must recompute."""
    return frozenset(item.checkpoint.size for item in asked if isinstance(item, Cosigned))


def judge(
    asked: Sequence[Cosigned | WitnessFinding], *, size: int, roots: Mapping[int, bytes]
) -> list[WitnessFinding]:
    """Compare each cosigned checkpoint with the log as verified: `size` entries, and the roots
    recomputed from them."""
    return [
        item if isinstance(item, WitnessFinding) else _judge(item, size, roots) for item in asked
    ]


def _judge(item: Cosigned, size: int, roots: Mapping[int, bytes]) -> WitnessFinding:
    name, checkpoint, when = item.witness, item.checkpoint, item.when
    if checkpoint.size > size:
        return WitnessFinding(name, TAMPERED, (
            f"rollback: witness {name} cosigned {checkpoint.size} entries at {when}, "
            f"the log holds {size}: entries {size + 1}-{checkpoint.size} were removed"
        ))  # fmt: skip
    root = roots.get(checkpoint.size)
    if root is None or not hmac.compare_digest(root, checkpoint.root):
        return WitnessFinding(name, TAMPERED, (
            f"fork: entries 1-{checkpoint.size} do not hash to the root witness {name} "
            f"cosigned at {when}: the history up to it was rewritten"
        ))  # fmt: skip
    return WitnessFinding(
        name, OK, f"witness {name}: the log extends its checkpoint at {checkpoint.size} ({when})"
    )
