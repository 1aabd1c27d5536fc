"""Key files: generated on first use with 0600 permissions in a 0700 folder, never logged.

The sealing key (32 random bytes) and the Ed25519 checkpoint signing keys under `checkpoint/`:
`<key id>.key` (the private seed, removed when the key is retired), `<key id>.vkey` (the public
verifier key, kept for ever) and `active` (which key signs now).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from dealchat.records.notes import Keyring, Signer, Verifier

KEY_BYTES = 32


def load_or_create_key(path: Path) -> bytes:
    """The 256-bit key stored at `path`, created atomically (O_EXCL) if it does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.parent.chmod(0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_bytes(KEY_BYTES))
        handle.flush()
        os.fsync(handle.fileno())
    return _read(path)


def _read(path: Path, size: int | None = KEY_BYTES) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise PermissionError(f"key file {path} must not be readable by others (mode {mode:o})")
    key = path.read_bytes()
    if size is not None and len(key) != size:
        raise ValueError(f"key file {path} is not a {size}-byte key")
    return key


# ---- checkpoint signing keys (Ed25519): one active, retired ones kept as public keys ----

_ACTIVE = "active"


def _signing_dir(keys_dir: Path) -> Path:
    folder = keys_dir / "checkpoint"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)
    return folder


def _write_new(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _generate(folder: Path, name: str) -> Signer:
    signer = Signer(name, Ed25519PrivateKey.generate())
    stem = signer.verifier.key_id.hex()
    _write_new(folder / f"{stem}.vkey", signer.verifier.vkey.encode("ascii") + b"\n")
    raw = signer.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    _write_new(folder / f"{stem}.key", raw)
    return signer


def _activate(folder: Path, signer: Signer, *, replace: bool) -> None:
    target = folder / _ACTIVE
    stem = signer.verifier.key_id.hex().encode("ascii")
    if not replace:
        _write_new(target, stem)
        return
    staging = folder / f"{_ACTIVE}.new"
    staging.unlink(missing_ok=True)
    _write_new(staging, stem)
    staging.replace(target)


def load_signer(keys_dir: Path, name: str) -> Signer:
    """The active checkpoint key, generated (0600) on first use."""
    folder = _signing_dir(keys_dir)
    if not (folder / _ACTIVE).exists():
        fresh = _generate(folder, name)
        try:
            _activate(folder, fresh, replace=False)
        except FileExistsError:  # another process was first: use its key
            (folder / f"{fresh.verifier.key_id.hex()}.key").unlink()
    stem = _read(folder / _ACTIVE, size=None).decode("ascii").strip()
    raw = _read(folder / f"{stem}.key", size=KEY_BYTES)
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(raw))
    if signer.verifier.key_id.hex() != stem:
        raise ValueError(f"checkpoint key {stem} belongs to another name than {name!r}")
    return signer


def rotate_signer(keys_dir: Path, name: str) -> tuple[Signer, Signer]:
    """A new active key; the old one's private half is destroyed, its public key kept."""
    old = load_signer(keys_dir, name)
    folder = _signing_dir(keys_dir)
    new = _generate(folder, name)
    _activate(folder, new, replace=True)
    (folder / f"{old.verifier.key_id.hex()}.key").unlink()
    return old, new


def load_keyring(keys_dir: Path) -> Keyring:
    """Every checkpoint verifier key ever used here (active and retired)."""
    folder = _signing_dir(keys_dir)
    return Keyring(
        Verifier.from_vkey(path.read_text("ascii")) for path in sorted(folder.glob("*.vkey"))
    )
