"""Key-encryption keys: the file-based one (default) and an in-memory one for the demo and tests.

Files live under `keys/kek/` as `kek-0001.key`, `kek-0002.key`, ...: each a 256-bit AES key,
0600 in a 0700 folder, created with O_EXCL on first run; the highest number is current.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from dealchat.records.keys import KEY_BYTES, load_or_create_key

_NONCE = 12
_NAME = re.compile(r"^kek-(\d{4,})\.key$")


def _wrap(key: bytes, data_key: bytes, context: str) -> bytes:
    nonce = secrets.token_bytes(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, data_key, context.encode("utf-8"))


def _unwrap(key: bytes, wrapped: bytes, context: str) -> bytes:
    return AESGCM(key).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], context.encode("utf-8"))


class FileKek:
    """AES-256-GCM key wrapping under versioned key files; `file:kek-0001` names version 1."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        if not self._versions():
            load_or_create_key(folder / "kek-0001.key")

    def _versions(self) -> list[int]:
        if not self._folder.is_dir():
            return []
        found = (_NAME.match(path.name) for path in self._folder.iterdir())
        return sorted(int(match.group(1)) for match in found if match)

    def _path(self, kek_id: str) -> Path:
        name = kek_id.removeprefix("file:")
        if not _NAME.match(f"{name}.key"):
            raise KeyError(kek_id)
        return self._folder / f"{name}.key"

    @property
    def current_id(self) -> str:
        return f"file:kek-{self._versions()[-1]:04d}"

    def _key(self, kek_id: str) -> bytes:
        path = self._path(kek_id)
        if not path.exists():
            raise KeyError(kek_id)
        return load_or_create_key(path)

    def wrap(self, data_key: bytes, *, context: str) -> tuple[str, bytes]:
        kek_id = self.current_id
        return kek_id, _wrap(self._key(kek_id), data_key, context)

    def unwrap(self, wrapped: bytes, *, kek_id: str, context: str) -> bytes:
        return _unwrap(self._key(kek_id), wrapped, context)

    def rotate(self) -> str:
        number = self._versions()[-1] + 1
        load_or_create_key(self._folder / f"kek-{number:04d}.key")
        return self.current_id

    def retire(self, kek_id: str) -> None:
        if kek_id == self.current_id:
            raise ValueError("the current KEK cannot be retired; rotate first")
        path = self._path(kek_id)
        if path.exists():
            path.write_bytes(secrets.token_bytes(KEY_BYTES))  # overwrite before unlinking
            path.unlink()


class MemoryKek:
    """A KEK held in process memory (the simulated HSM of the demo and of tests): lost on exit."""

    def __init__(self, prefix: str = "memory") -> None:
        self._prefix = prefix
        self._keys: dict[str, bytes] = {}
        self._count = 0
        self.rotate()

    @property
    def current_id(self) -> str:
        return f"{self._prefix}:{self._count:04d}"

    def wrap(self, data_key: bytes, *, context: str) -> tuple[str, bytes]:
        kek_id = self.current_id
        return kek_id, _wrap(self._keys[kek_id], data_key, context)

    def unwrap(self, wrapped: bytes, *, kek_id: str, context: str) -> bytes:
        return _unwrap(self._keys[kek_id], wrapped, context)

    def rotate(self) -> str:
        self._count += 1
        self._keys[self.current_id] = secrets.token_bytes(KEY_BYTES)
        return self.current_id

    def retire(self, kek_id: str) -> None:
        if kek_id == self.current_id:
            raise ValueError("the current KEK cannot be retired; rotate first")
        self._keys.pop(kek_id, None)
