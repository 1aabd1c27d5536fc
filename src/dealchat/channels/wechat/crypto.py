"""WeChat's message signatures and its AES encrypted mode, pure.

signature     = sha1(sorted([token, timestamp, nonce]) joined)
msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt]) joined)
Encrypt       = base64(AES-256-CBC(key, iv=key[:16], pkcs7-32(random16 + len4 + msg + app_id)))
where key = base64decode(EncodingAESKey + "=") (43 characters -> 32 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8"), usedforsecurity=False).hexdigest()


def same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))


def aes_key(encoding_aes_key: str) -> bytes:
    key = base64.b64decode(encoding_aes_key + "=")
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters (32 bytes)")
    return key


def decrypt(encrypted: str, key: bytes, app_id: str) -> bytes:
    """The message inside; ValueError when it does not decrypt or is for another app."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except ValueError as error:
        raise ValueError("Encrypt is not base64") from error
    if not raw or len(raw) % 16:
        raise ValueError("Encrypt has a bad length")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    padded = decryptor.update(raw) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= _BLOCK or padded[-pad:] != bytes([pad]) * pad:
        raise ValueError("bad padding")
    plain = padded[16:-pad]
    (length,) = struct.unpack(">I", plain[:4])
    message, owner = plain[4 : 4 + length], plain[4 + length :]
    if not hmac.compare_digest(owner, app_id.encode("utf-8")):
        raise ValueError("message is for another app id")
    return message


def encrypt(message: bytes, key: bytes, app_id: str, *, nonce: bytes | None = None) -> str:
    plain = (nonce or secrets.token_bytes(16)) + struct.pack(">I", len(message))
    plain += message + app_id.encode("utf-8")
    pad = _BLOCK - len(plain) % _BLOCK
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")
