"""Ports of the records domain: the key-encryption key (a file by default, an HSM or KMS behind it).

A KEK never leaves its keeper: data keys go in to be wrapped and come out unwrapped. Each wrapped
key names the KEK version that wrapped it, so rotation can re-wrap old keys while both versions
are still available and then retire the old one.
"""

from __future__ import annotations

from typing import Protocol


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
