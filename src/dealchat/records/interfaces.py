"""Ports of the records domain: the key-encryption key (a file by default, an HSM or KMS behind it).

A KEK never leaves its keeper: data keys go in to be wrapped and come out unwrapped. Each wrapped
key names the KEK version that wrapped it, so rotation can re-wrap old keys while both versions
are still available and then retire the old one.
"""

from __future__ import annotations

from typing import Protocol

from dealchat.records.cosignature import CosignerKey


class KeyEncryptionKey(Protocol):
    """Wraps and unwraps 256-bit data keys. `context` is bound as associated data."""

    @property
    def current_id(self) -> str:
        """The version new data keys are wrapped under."""
        ...

    def wrap(self, data_key: bytes, *, context: str) -> tuple[str, bytes]:
        """Wrap under the current version; returns (kek version id, wrapped bytes)."""
        ...

    def unwrap(self, wrapped: bytes, *, kek_id: str, context: str) -> bytes:
        """Unwrap with the named version; raises `KeyError` if that version is gone."""
        ...

    def rotate(self) -> str:
        """Create a new current version and return its id; older versions stay until retired."""
        ...

    def retire(self, kek_id: str) -> None:
        """Destroy an old version (never the current one)."""
        ...


class WitnessUnavailableError(Exception):
    """The witness could not be asked, or answered something other than a cosignature."""


class WitnessConflictError(Exception):
    """The witness holds another size for this log (C2SP 409): `size` is the one it holds."""

    def __init__(self, size: int, reason: str = "") -> None:
        super().__init__(reason or f"the witness holds size {size}")
        self.size = size


class WitnessRefusedLogError(Exception):
    """The witness refuses the checkpoint as inconsistent with what it cosigned before (its
    consistency proof fails, or another root at the size it holds): a fork or a rollback."""


class CheckpointWitness(Protocol):
    """A witness of the log's checkpoints (C2SP tlog-witness): over HTTP, or a file witness
    opened in this process. Its key is the one settings trust, never one it hands out."""

    @property
    def name(self) -> str: ...

    @property
    def key(self) -> CosignerKey:
        """The witness's public key, as settings give it."""
        ...

    def add_checkpoint(self, old_size: int, proof: list[bytes], note: str) -> str:
        """This witness's valid cosignature line on `note` (checked against its key), or
        `WitnessConflictError` (it holds another size) or `WitnessUnavailableError`."""
        ...

    def latest(self, origin: str) -> str | None:
        """The newest checkpoint it cosigned for `origin`, its cosignature included."""
        ...

    def close(self) -> None:
        """Let go of its connections."""
        ...
