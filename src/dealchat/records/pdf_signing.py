"""Evidence PDFs are signed (PAdES baseline B-B, pyHanko) so a regulator's reader shows who
produced a document and that it is unchanged since.

The signing key is an ECDSA P-256 key made on first use under `<keys>/evidence/` (`signer.key`,
0600, in a 0700 folder) with a self-signed X.509 certificate naming the bank's log
(`signer.crt`, public: hand it to whoever checks the PDFs, or have it certified by the bank's
own CA and put that certificate in its place). `dealchat audit verify-pdf FILE --cert CRT`
validates a file against it.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

with warnings.catch_warnings():  # pyHanko imports DSA, which cryptography deprecates
    warnings.simplefilter("ignore")
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

FIELD = "dealchat-evidence"
_CERT_YEARS = 10


@dataclass(frozen=True)
class EvidenceSigner:
    key_file: Path
    cert_file: Path
    name: str

    @classmethod
    def load(cls, keys_dir: Path, origin: str) -> EvidenceSigner:
        """The evidence key and certificate, made on first use."""
        folder = keys_dir / "evidence"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder.chmod(0o700)
        key_file, cert_file = folder / "signer.key", folder / "signer.crt"
        if not key_file.exists():
            _generate(key_file, cert_file, origin)
        mode = key_file.stat().st_mode & 0o777
        if mode & 0o077:
            raise PermissionError(f"key file {key_file} must not be readable by others")
        return cls(key_file, cert_file, f"dealchat evidence signer ({origin})")

    def sign(self, pdf: bytes, *, reason: str) -> bytes:
        """`pdf` with a PAdES signature over all of it."""
        signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]  # pyHanko: no annotations
            str(self.key_file), str(self.cert_file)
        )
        if signer is None:
            raise ValueError(f"cannot load the evidence key {self.key_file}")
        meta = signers.PdfSignatureMetadata(
            field_name=FIELD, subfilter=SigSeedSubFilter.PADES, reason=reason, name=self.name
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        signed = signers.sign_pdf(writer, meta, signer=signer)
        return bytes(signed.getvalue())


def _generate(key_file: Path, cert_file: Path, origin: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dealchat"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"dealchat evidence signer ({origin})"[:64]),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * _CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(key_file, pem)
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class PdfCheck:
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the signature is the certificate's
    trusted: bool  # the certificate is the one trusted
    covers_whole_file: bool  # nothing was appended after signing
    signer: str

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted and self.covers_whole_file


def verify_pdf(pdf: bytes, *, cert_file: Path) -> PdfCheck:
    """Validate the evidence signature of `pdf` against the certificate in `cert_file`."""
    reader = PdfFileReader(io.BytesIO(pdf))
    if not reader.embedded_signatures:
        raise ValueError("the PDF carries no signature")
    embedded = reader.embedded_signatures[0]
    trusted = load_cert_from_pemder(  # type: ignore[no-untyped-call]  # pyHanko: no annotations
        str(cert_file)
    )
    status = validate_pdf_signature(embedded, ValidationContext(trust_roots=[trusted]))
    coverage = embedded.evaluate_signature_coverage()
    return PdfCheck(
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        covers_whole_file=coverage.name == "ENTIRE_FILE",
        signer=embedded.signer_cert.subject.human_friendly,
    )
