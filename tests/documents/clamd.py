"""A real clamd for the tests (pytest plugin, registered in tests/conftest.py).

`clamd` starts Debian's /usr/sbin/clamd once per session in the foreground, on a generated config
in a tmp dir and the project's own signature database (src/dealchat/documents/signatures), and
stops it at the end. Under CI=true a missing clamd fails the run (`make clamav` installs it);
elsewhere the tests that need it are skipped with the reason.

    def test_upload(clamd: Clamd, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, documents={"clamd": clamd.url})
        assert clamd.scanner.scan(eicar()).verdict is Verdict.INFECTED
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dealchat.documents.clamav import ClamdAddress, ClamdScanner
from dealchat.documents.local_clamd import ClamdStartError, clamd_binary, local_clamd

IN_CI = os.environ.get("CI") == "true"
# clamd refuses streams longer than this; at least the largest upload the platform accepts
STREAM_MAX_BYTES = 32 * 1024 * 1024
EICAR_SIGNATURE = "Dealchat.Test.EICAR.UNOFFICIAL"  # clamd adds .UNOFFICIAL: not a signed CVD
# The EICAR test file, kept in two base64 halves so that it never sits verbatim in the repo
_EICAR_PARTS = (
    "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJE",
    "LUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo=",
)


def eicar() -> bytes:
    """The 68-byte EICAR anti-virus test file: harmless, and every scanner reports it."""
    first, second = (base64.b64decode(part) for part in _EICAR_PARTS)
    return first + second


@dataclass(frozen=True)
class Clamd:
    address: ClamdAddress
    scanner: ClamdScanner
    stream_max_bytes: int

    @property
    def url(self) -> str:
        """For DEALCHAT_DOCUMENTS__CLAMD / DocumentsSettings(clamd=...)."""
        return str(self.address)


@pytest.fixture(scope="session")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    if clamd_binary() is None:
        message = "clamd is not installed (make clamav installs Debian's clamav-daemon)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("clamd")
    try:
        with local_clamd(directory, stream_max_bytes=STREAM_MAX_BYTES) as address:
            scanner = ClamdScanner(address, connect_timeout=5, read_timeout=60)
            yield Clamd(address, scanner, STREAM_MAX_BYTES)
    except ClamdStartError as error:
        pytest.fail(str(error))
