"""The edge-core link: what the edge hands the core is signed, then encrypted.

Each side has an EC P-256 key and a self-signed X.509 certificate, made on first run (key 0600 in a
0700 folder); each is given the other's certificate (pinned: nothing else is trusted). A message
is a JWT signed by the sender (JWS, ES256, `x5t#S256` naming the sender's certificate), then
encrypted to the receiver's certificate key (JWE, ECDH-ES+A256KW with A256GCM). The receiver
decrypts, verifies, and checks issuer and audience (the roles), the certificate's validity, `iat`
within the window and a `jti` it has not seen: a tampered, misdirected, stale or replayed envelope
raises `Rejected`.

Size: joserfc caps a JWS payload at 128,000 bytes and a JWE ciphertext at 64 KiB by default. A
link carries up to `max_data_bytes` raw bytes (an upload relayed to the core, base64 in the claims),
so each end sets both caps, and refuses any envelope text, to `envelope_limit(max_data_bytes)`:
base64 three times over (the body, the JWT, the JWE) makes an envelope about 2.37 times its data.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey
from joserfc.jws import JWSRegistry

from dealchat.channels.http import ReplayGuard
from dealchat.channels.interfaces import Rejected
from dealchat.db.base import utcnow

SIGN = ["ES256"]
ENCRYPT = ["ECDH-ES+A256KW", "A256GCM"]
CERT_DAYS = 825
DEFAULT_DATA_BYTES = 16 * 1024
ENVELOPE_SLACK = 64 * 1024  # headers, signature, the JSON around the data


def envelope_limit(max_data_bytes: int) -> int:
    """The longest envelope that carries `max_data_bytes` raw bytes: 8/3 of it (over the 64/27
    that three base64 layers take) plus room for everything around the data."""
    return max_data_bytes * 8 // 3 + ENVELOPE_SLACK


@dataclass(frozen=True)
class Identity:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def load_or_create_identity(directory: Path, role: str) -> Identity:
    """`<role>.key` (0600) and `<role>.crt` under `directory`, made once."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    directory.chmod(0o700)
    key_path, cert_path = directory / f"{role}.key", directory / f"{role}.crt"
    if not key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        cert_path.write_bytes(_self_signed(key, role).public_bytes(serialization.Encoding.PEM))
    if key_path.stat().st_mode & 0o077:
        raise PermissionError(f"{key_path} must not be readable by others")
    loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path} is not an EC private key")
    return Identity(loaded, load_certificate(cert_path))


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _self_signed(key: ec.EllipticCurvePrivateKey, role: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"dealchat-{role}")])
    now = utcnow()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def thumbprint(certificate: x509.Certificate) -> str:
    digest = certificate.fingerprint(hashes.SHA256())
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class Link:
    """One direction-aware end of the link: seals to the peer, opens what the peer sealed."""

    def __init__(
        self,
        own: Identity,
        peer: x509.Certificate,
        *,
        role: str,
        peer_role: str,
        window: dt.timedelta = dt.timedelta(seconds=60),
        clock: Callable[[], dt.datetime] = utcnow,
        max_data_bytes: int = DEFAULT_DATA_BYTES,
    ) -> None:
        self._own, self._peer = own, peer
        self._own_key = ECKey.import_key(own.key)
        public = peer.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise ValueError("the peer certificate must carry an EC key")
        self._peer_key = ECKey.import_key(public)
        self._role, self._peer_role = role, peer_role
        self._window, self._clock = window, clock
        self.replays = ReplayGuard(window)
        self.max_envelope = envelope_limit(max_data_bytes)
        # Registries given to joserfc carry the allowed algorithms (it ignores `algorithms` then).
        self._jws = JWSRegistry(algorithms=SIGN)
        self._jws.max_payload_length = self.max_envelope
        self._jwe = JWERegistry(algorithms=ENCRYPT)
        self._jwe.max_ciphertext_length = self.max_envelope

    def seal(self, data: dict[str, Any]) -> str:
        now = self._clock()
        claims = {
            "iss": self._role,
            "aud": self._peer_role,
            "iat": int(now.timestamp()),
            "jti": secrets.token_urlsafe(16),
            "data": data,
        }
        header = {"alg": "ES256", "typ": "JWT", "x5t#S256": thumbprint(self._own.certificate)}
        signed = jwt.encode(header, claims, self._own_key, registry=self._jws)
        outer = {"alg": ENCRYPT[0], "enc": ENCRYPT[1], "cty": "JWT"}
        outer["x5t#S256"] = thumbprint(self._peer)
        sealed = jwe.encrypt_compact(outer, signed, self._peer_key, registry=self._jwe)
        if len(sealed) > self.max_envelope:
            raise ValueError(f"an envelope of {len(sealed)} bytes is over the link's limit")
        return sealed

    def open(self, envelope: str) -> dict[str, Any]:
        now = self._clock()
        self._check_certificate(now)
        if len(envelope) > self.max_envelope:
            raise Rejected("envelope over the link's size limit")
        try:
            opened = jwe.decrypt_compact(envelope, self._own_key, registry=self._jwe)
            token = jwt.decode(opened.plaintext or b"", self._peer_key, registry=self._jws)
        except (JoseError, ValueError) as error:
            raise Rejected(f"envelope does not open: {type(error).__name__}") from error
        if token.header.get("x5t#S256") != thumbprint(self._peer):
            raise Rejected("envelope signed under another certificate")
        claims = token.claims
        if claims.get("iss") != self._peer_role or claims.get("aud") != self._role:
            raise Rejected("envelope for another role")
        sent = dt.datetime.fromtimestamp(int(claims.get("iat", 0)), dt.UTC)
        if abs(now - sent) > self._window:
            raise Rejected("stale envelope")
        self.replays.check(str(claims.get("jti", "")), now=now)
        data = claims.get("data")
        if not isinstance(data, dict):
            raise Rejected("envelope without data")
        return data

    def _check_certificate(self, now: dt.datetime) -> None:
        if not self._peer.not_valid_before_utc <= now <= self._peer.not_valid_after_utc:
            raise Rejected("peer certificate outside its validity")
