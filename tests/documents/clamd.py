"""A real clamd for the tests (pytest plugin, registered in tests/conftest.py).

`clamd` starts Debian's /usr/sbin/clamd once per session in the foreground, on a generated config
in a tmp dir and the project's own signature database (src/dealchat/documents/signatures), and
stops it at the end. Under CI=true a missing clamd fails the run (`make clamav` installs it);
elsewhere the tests that need it are skipped with the reason.

    def test_upload(clamd: Clamd, tmp_path: Path) -> None:
        settings = Settings(data_dir=tmp_path, documents={"clamd": clamd.url})
        assert clamd.scanner.scan(eicar()).verdict is Verdict.INFECTED  # dealchat.documents.eicar
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dealchat.documents.clamav import ClamdAddress, ClamdScanner
from dealchat.documents.eicar import eicar
from dealchat.documents.local_clamd import (
    STREAM_MAX_BYTES,
    ClamdStartError,
    clamd_binary,
    local_clamd,
)

__all__ = ["EICAR_SIGNATURE", "Clamd", "clamd", "clamd_installed", "eicar"]

IN_CI = os.environ.get("CI") == "true"
EICAR_SIGNATURE = "Dealchat.Test.EICAR.UNOFFICIAL"  # clamd adds .UNOFFICIAL: not a signed CVD


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
def clamd_installed() -> Path:
    """clamd's executable; a skip (a failure under CI=true) when it is not installed."""
    binary = clamd_binary()
    if binary is None:
        message = "clamd is not installed (make clamav installs Debian's clamav-daemon)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return binary


@pytest.fixture(scope="session")
def clamd(clamd_installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    directory = tmp_path_factory.mktemp("clamd")
    try:
        with local_clamd(
            directory, stream_max_bytes=STREAM_MAX_BYTES, binary=clamd_installed
        ) as address:
            scanner = ClamdScanner(address, connect_timeout=5, read_timeout=60)
            yield Clamd(address, scanner, STREAM_MAX_BYTES)
    except ClamdStartError as error:
        pytest.fail(str(error))
