"""Starts a real LDAP directory for the directory sync tests: Debian's OpenLDAP `slapd` (`make
ldap`), on a free loopback port, with a configuration, a database and a TLS certificate of its own
in a temporary directory (a test CA signs the server's certificate), and the Active Directory
attributes the sync reads (`ad.schema`: userAccountControl, sAMAccountName). Samba's AD domain
controller, with fixed ports and so one at a time, is tests/ldap/samba.py."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HERE = Path(__file__).parent
SLAPD = os.environ.get("DEALCHAT_SLAPD", "/usr/sbin/slapd")
IN_CI = os.environ.get("CI") == "true"
BASE = "dc=bank,dc=test"
ADMIN = f"cn=admin,{BASE}"
SYNC_DN = f"cn=dealchat-sync,ou=service,{BASE}"


@dataclass(frozen=True)
class Slapd:
    url: str
    ca_file: Path
    admin_password: str
    sync_password: str
    users: str = f"ou=people,{BASE}"
    groups: str = f"ou=groups,{BASE}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _pem(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _tls(folder: Path, address: str = "127.0.0.1") -> tuple[Path, Path, Path]:
    """A test CA and the server's certificate for `address` and localhost, signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dealchat test directory CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress  # noqa: PLC0415

    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, address)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(address))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return (
        _pem(folder / "ca.crt", ca.public_bytes(pem)),
        _pem(folder / "server.crt", cert.public_bytes(pem)),
        _pem(
            folder / "server.key",
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            0o600,
        ),
    )


_CONF = """include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {schema}
pidfile {run}/slapd.pid
argsfile {run}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {ca}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 33554432
suffix "{base}"
rootdn "{admin}"
rootpw {admin_password}
directory {data}
index objectClass eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""


def _start(folder: Path) -> tuple[subprocess.Popen[bytes], Slapd]:
    import secrets  # noqa: PLC0415

    (folder / "data").mkdir(parents=True)
    ca, cert, key = _tls(folder)
    admin_password, sync_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    conf = folder / "slapd.conf"
    conf.write_text(
        _CONF.format(
            schema=HERE / "ad.schema",
            run=folder,
            ca=ca,
            cert=cert,
            key=key,
            base=BASE,
            admin=ADMIN,
            admin_password=admin_password,
            data=folder / "data",
        ),
        encoding="utf-8",
    )
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    process = subprocess.Popen(
        [SLAPD, "-f", str(conf), "-h", f"{url}/", "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"slapd did not start (exit {process.poll()})")
        time.sleep(0.05)
    return process, Slapd(url, ca, admin_password, sync_password)


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    if not Path(SLAPD).is_file():
        message = f"slapd not found at {SLAPD} (make ldap installs Debian's)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    process, found = _start(tmp_path / "slapd")
    try:
        _seed(found)
        yield found
    finally:
        process.terminate()
        process.wait(timeout=10)


def admin(found: Slapd):  # type: ignore[no-untyped-def]
    """A connection as the directory's administrator (the tests change the directory with it)."""
    from dealchat.identity.directory import ldap3  # noqa: PLC0415 - imported without warnings

    server = ldap3.Server(found.url)
    return ldap3.Connection(server, ADMIN, found.admin_password, auto_bind=True)


def _seed(found: Slapd) -> None:
    connection = admin(found)
    connection.add(BASE, ["dcObject", "organization"], {"o": "bank", "dc": "bank"})
    for unit in ("people", "groups", "service", "elsewhere"):
        connection.add(f"ou={unit},{BASE}", ["organizationalUnit"], {"ou": unit})
    connection.add(
        SYNC_DN,
        ["person", "simpleSecurityObject"],
        {"cn": "dealchat-sync", "sn": "sync", "userPassword": found.sync_password},
    )
    connection.unbind()
