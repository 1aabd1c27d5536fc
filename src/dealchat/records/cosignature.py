"""Witness cosignatures (C2SP tlog-cosignature, `cosignature/v1`, Ed25519) and the body of a
C2SP tlog-witness `add-checkpoint` request, pure (no I/O).

A cosignature is a note signature line on a checkpoint, `— <name> base64(key id || timestamp ||
signature)`, where the key id is SHA-256(name || "\\n" || 0x04 || public key)[:4], the timestamp
a big-endian u64 of POSIX seconds, and the Ed25519 signature covers

    cosignature/v1
    time <timestamp>
    <the checkpoint body: origin, size, root>

It states that, at that time, this is the largest tree the witness has seen for the origin and
that it is consistent with every smaller one it saw. A cosigner's verifier key is written as a
vkey with type 0x04: `<name>+<key id hex>+<base64(0x04 || public key)>`.

An add-checkpoint request body is `old <size>`, up to 63 base64 consistency-proof lines, an
empty line, then the checkpoint note (with the log's signature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from dealchat.records.merkle import HASH_SIZE
from dealchat.records.notes import DASH, NoteError

COSIGNATURE_V1 = b"\x04"
HEADER = "cosignature/v1\n"
MAX_PROOF_LINES = 63
MAX_REQUEST_BYTES = 64 * 1024  # a checkpoint with a few signatures and 63 proof lines: ~4 KiB
_MAX_TIMESTAMP = 2**63 - 1


def cosigner_key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\n" + COSIGNATURE_V1 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or len(name) > 200 or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"cosigner name {name!r} must be 1-200 characters, no spaces or '+'")
    return name


def signed_message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time line and the checkpoint body."""
    return f"{HEADER}time {timestamp}\n{body}".encode()


@dataclass(frozen=True)
class CosignerKey:
    """A witness's public key as the log and the verifier know it (from settings)."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, self.public)

    @property
    def vkey(self) -> str:
        encoded = base64.b64encode(COSIGNATURE_V1 + self.public).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    @classmethod
    def from_vkey(cls, text: str) -> CosignerKey:
        try:
            name, hex_id, encoded = text.strip().split("+", 2)
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error) as error:
            raise NoteError(f"not a cosigner key: {error}") from error
        if len(raw) != 33 or raw[:1] != COSIGNATURE_V1:
            raise NoteError("not an Ed25519 cosignature/v1 key (type 0x04)")
        key = cls(_check_name(name), raw[1:])
        if key.key_id.hex() != hex_id:
            raise NoteError("the cosigner key's id does not match its name and key")
        return key

    def timestamp_of(self, body: str, line: str) -> int | None:
        """The time of `line` if it is this witness's valid cosignature on `body`, else None."""
        dash, _, rest = line.partition(" ")
        name, _, encoded = rest.partition(" ")
        if dash != DASH or name != self.name:
            return None
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            return None
        if len(raw) != 4 + 8 + 64 or not hmac.compare_digest(raw[:4], self.key_id):
            return None
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        if timestamp > _MAX_TIMESTAMP:
            return None
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(
                raw[12:], signed_message(body, timestamp)
            )
        except InvalidSignature:
            return None
        return int(timestamp)

    def find(self, body: str, lines: list[str]) -> tuple[str, int] | None:
        """This witness's first valid cosignature among `lines`: the line and its time."""
        for line in lines:
            timestamp = self.timestamp_of(body, line)
            if timestamp is not None:
                return line, timestamp
        return None


@dataclass(frozen=True)
class Cosigner:
    """A witness's private key: signs cosignature/v1 lines."""

    name: str
    private: Ed25519PrivateKey

    @property
    def key(self) -> CosignerKey:
        public = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return CosignerKey(_check_name(self.name), public)

    def cosign(self, body: str, timestamp: int) -> str:
        signature = self.private.sign(signed_message(body, timestamp))
        raw = self.key.key_id + struct.pack(">Q", timestamp) + signature
        return f"{DASH} {self.name} {base64.b64encode(raw).decode('ascii')}\n"


def split_note(note: str) -> tuple[str, list[str]]:
    """A signed note's body (with its final newline) and its signature lines."""
    body, separator, signatures = note.partition("\n\n")
    if not separator or not signatures.endswith("\n") or "\n\n" in signatures:
        raise NoteError("malformed note: no signature block")
    return body + "\n", signatures.splitlines()


def with_cosignatures(note: str, lines: list[str]) -> str:
    """The note with these cosignature lines added after its own signatures (none twice)."""
    present = set(split_note(note)[1])
    added = dict.fromkeys(line.rstrip("\n") for line in lines)
    return note + "".join(f"{line}\n" for line in added if line and line not in present)


# ---- the add-checkpoint request (tlog-witness) ----


@dataclass(frozen=True)
class AddCheckpoint:
    old_size: int
    proof: list[bytes]
    note: str  # the checkpoint note as submitted, signatures included


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old_size}\n"] + [base64.b64encode(h).decode("ascii") + "\n" for h in proof]
    return ("".join(lines) + "\n" + note).encode("utf-8")


class RequestError(ValueError):
    """A malformed add-checkpoint request (400)."""


def parse_add_checkpoint(raw: bytes) -> AddCheckpoint:
    if len(raw) > MAX_REQUEST_BYTES:
        raise RequestError(f"the request is over {MAX_REQUEST_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError("the request is not UTF-8") from error
    if "\x00" in text:
        raise RequestError("the request holds a NUL byte")
    head, separator, note = text.partition("\n\n")
    if not separator:
        raise RequestError("no empty line before the checkpoint")
    lines = head.split("\n")
    first = lines[0]
    size_text = first[4:] if first.startswith("old ") else ""
    if not size_text.isdigit() or str(int(size_text)) != size_text or len(size_text) > 19:
        raise RequestError("the first line must be 'old <size>' in decimal")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise RequestError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except binascii.Error as error:
            raise RequestError("a proof line is not base64") from error
        if len(value) != HASH_SIZE:
            raise RequestError("a proof line is not a SHA-256 hash")
        proof.append(value)
    return AddCheckpoint(int(size_text), proof, note)
