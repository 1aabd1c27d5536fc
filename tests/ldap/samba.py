"""Starts a real Active Directory for the directory tests: Samba's AD domain controller from
Debian (`samba`), provisioned by `samba-tool domain provision` in a temporary directory (realm
BANK.TEST, no DNS), its LDAP service alone, LDAPS on port 636 with a certificate of a test CA.
AD's ports are fixed and Samba binds only to addresses an interface holds, so the DC listens on
127.0.0.1 (`lo`) and one DC runs on the machine at a time: a fixture holds an exclusive lock on
/tmp/dealchat-samba-dc.lock while its DC lives (another pytest worker waits for it). Users are
added and disabled with `samba-tool` on the DC's own database. Skipped when samba is not
installed (`make ldap` installs it) or not root; under CI=true both fail the run."""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ldap.fixture import _tls

SAMBA_TOOL = shutil.which("samba-tool") or "/usr/bin/samba-tool"
SAMBA = shutil.which("samba") or "/usr/sbin/samba"
BASE = "DC=bank,DC=test"
USERS = f"CN=Users,{BASE}"
ADMIN = f"CN=Administrator,{USERS}"
LOCK = Path("/tmp/dealchat-samba-dc.lock")


@dataclass(frozen=True)
class SambaDc:
    url: str
    ca_file: Path
    admin_password: str
    sam: Path  # the DC's database, for samba-tool

    def tool(self, *args: str) -> None:
        done = subprocess.run(
            [SAMBA_TOOL, *args, "-H", str(self.sam)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def _one_dc_at_a_time() -> Iterator[None]:
    with LOCK.open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _wait_for(address: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        with socket.socket() as probe:
            if probe.connect_ex((address, 636)) == 0:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(timeout=10)
            pytest.fail(f"samba did not start (exit {process.poll()})")
        time.sleep(0.2)


def _options(address: str, ca: Path, cert: Path, key: Path) -> list[str]:
    return [
        f"--option=interfaces={address}",
        "--option=bind interfaces only=yes",
        "--option=server services=ldap",
        f"--option=tls cafile={ca}",
        f"--option=tls certfile={cert}",
        f"--option=tls keyfile={key}",
    ]


@pytest.fixture(scope="module")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDc]:
    problem = None
    if not (Path(SAMBA_TOOL).is_file() and Path(SAMBA).is_file()):
        problem = "samba not installed (make ldap installs Debian's)"
    elif os.geteuid() != 0:
        problem = "a Samba domain controller runs as root"
    if problem is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(problem)
        pytest.skip(problem)
    with _one_dc_at_a_time():
        yield from _started(tmp_path_factory.mktemp("samba"))


def _started(folder: Path) -> Iterator[SambaDc]:
    address = "127.0.0.1"
    with socket.socket() as probe:
        if probe.connect_ex((address, 636)) == 0:
            pytest.fail("port 636 is taken: another directory runs on this machine")
    ca, cert, key = _tls(folder, address)
    password = "Dc-Admin-Passw0rd!"
    options = _options("lo", ca, cert, key)
    provisioned = subprocess.run(
        [SAMBA_TOOL, "domain", "provision", f"--targetdir={folder / 'dc'}", "--realm=BANK.TEST",
         "--domain=BANK", "--server-role=dc", "--dns-backend=NONE", f"--adminpass={password}",
         *options],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert provisioned.returncode == 0, provisioned.stderr[-2000:]
    conf = folder / "dc" / "etc" / "smb.conf"
    process = subprocess.Popen(
        [SAMBA, "-i", "-M", "single", "-s", str(conf), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(address, process)
    try:
        yield SambaDc(f"ldaps://{address}:636", ca, password, folder / "dc" / "private" / "sam.ldb")
    finally:
        process.terminate()
        process.wait(timeout=30)
