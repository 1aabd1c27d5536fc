"""Signed checkpoints as C2SP signed notes, pure (no I/O): format, sign, parse and verify.

A checkpoint body is three lines (C2SP tlog-checkpoint): the log's origin, the tree size in decimal
and the root hash in base64. The note is the body, a blank line, and one line per signature:
`— <key name> <base64(key id || Ed25519 signature)>`, where the key id is the first four bytes of
SHA-256(name || "\\n" || 0x01 || public key). A verifier key is written as the C2SP vkey
`<name>+<key id hex>+<base64(0x01 || public key)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014"
_MAX_SIGNATURES = 16


OTHER_ROOT = "its signed text states another size or root"


class NoteError(ValueError):
    """The text is not a well-formed, correctly signed checkpoint."""


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes  # the raw 32-byte Ed25519 public key

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(ED25519 + self.public).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, text: str) -> Verifier:
        try:
            name, hex_id, encoded = text.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"not a verifier key: {error}") from error
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("not an Ed25519 verifier key")
        verifier = cls(_check_name(name), raw[1:])
        if verifier.key_id.hex() != hex_id:
            raise NoteError("the verifier key's id does not match its name and key")
        return verifier

    def verify(self, body: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, body)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    private: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(_check_name(self.name), public)

    def signature_line(self, body: str) -> str:
        signature = self.private.sign(body.encode("utf-8"))
        encoded = base64.b64encode(self.verifier.key_id + signature).decode("ascii")
        return f"{DASH} {self.name} {encoded}\n"


class Keyring:
    """The verifier keys a reader trusts: the current one and every retired one."""

    def __init__(self, verifiers: Iterable[Verifier]) -> None:
        self.verifiers = list(verifiers)

    def find(self, name: str, hashed: bytes) -> Verifier | None:
        for verifier in self.verifiers:
            if verifier.name == name and hmac.compare_digest(verifier.key_id, hashed):
                return verifier
        return None


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin:
        raise NoteError("the origin must be one non-empty line")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def sign_note(body: str, signers: Iterable[Signer]) -> str:
    lines = [signer.signature_line(body) for signer in signers]
    if not lines:
        raise NoteError("a note needs at least one signature")
    return body + "\n" + "".join(lines)


def open_checkpoint(text: str, keys: Keyring | None) -> Checkpoint:
    """Parse a checkpoint note; with `keys`, require at least one valid known signature."""
    body, _, signatures = text.partition("\n\n")
    body += "\n"
    if not signatures.endswith("\n") or "\n\n" in signatures:
        raise NoteError("malformed note: no signature block")
    checkpoint = _parse_body(body)
    if keys is not None and not _signed(body, signatures.splitlines(), keys):
        raise NoteError("no valid signature by a known key")
    return checkpoint


def _parse_body(body: str) -> Checkpoint:
    lines = body.split("\n")[:-1]
    if len(lines) < 3 or not lines[1].isdigit() or str(int(lines[1])) != lines[1]:
        raise NoteError("malformed checkpoint body")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error as error:
        raise NoteError("malformed root hash") from error
    if len(root) != 32:
        raise NoteError("malformed root hash")
    return Checkpoint(lines[0], int(lines[1]), root)


def _signed(body: str, lines: list[str], keys: Keyring) -> bool:
    if len(lines) > _MAX_SIGNATURES:
        return False
    for line in lines:
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != DASH:
            return False
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return False
        if len(raw) != 68:
            continue  # another kind of signature (a witness's cosignature): not ours to check
        verifier = keys.find(name, raw[:4])
        if verifier is not None and verifier.verify(body.encode("utf-8"), raw[4:]):
            return True
    return False


def check_checkpoint_note(
    note: str, *, size: int, root: bytes, keys: Keyring | None, origin: str | None = None
) -> str | None:
    """None if `note` states (`size`, `root`) and (with `keys`) is signed; else the problem."""
    try:
        checkpoint = open_checkpoint(note, keys)
    except NoteError as error:
        return str(error)
    if checkpoint.size != size or not hmac.compare_digest(checkpoint.root, root):
        return OTHER_ROOT
    if origin is not None and checkpoint.origin != origin:
        return f"it is for another log ({checkpoint.origin})"
    return None
