"""Starts the real SAML IdP (tests/saml/idp.py: pysaml2's `saml2.server.Server`) as its own
process on a free loopback port, with a key and certificate it makes at start, and exchanges
metadata with our SP: it reads ours, we read the file it writes."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).parent
IN_CI = os.environ.get("CI") == "true"


@dataclass(frozen=True)
class SamlIdp:
    url: str
    entity_id: str
    metadata: Path


def _missing() -> str | None:
    if shutil.which("xmlsec1") is None:
        return "xmlsec1 is not installed (make saml installs Debian's)"
    if importlib.util.find_spec("saml2") is None:
        return "pysaml2 is not installed (make venv)"
    return None


def _start(folder: Path, sp_metadata: str, name: str) -> tuple[subprocess.Popen[str], SamlIdp]:
    folder.mkdir(parents=True, exist_ok=True)
    sp_file = folder / "sp.xml"
    sp_file.write_text(sp_metadata, encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(HERE / "idp.py"), str(folder), str(sp_file), name],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=60)
    if not line or not line[0].strip():
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()
        pytest.fail("the SAML IdP did not start")
    found = json.loads(line[0])
    return process, SamlIdp(found["url"], found["entity_id"], Path(found["metadata"]))


@pytest.fixture
def saml_idp_factory(tmp_path: Path) -> Iterator[Callable[..., SamlIdp]]:
    """start(our SP metadata XML, name="127.0.0.1") -> a running IdP that knows us; its URLs use
    `name` (the browser tests give "localhost": another site than 127.0.0.1, as a bank's IdP is)."""
    problem = _missing()
    if problem is not None:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    started: list[subprocess.Popen[str]] = []

    def start(sp_metadata: str, name: str = "127.0.0.1") -> SamlIdp:
        process, idp = _start(tmp_path / f"idp-{len(started)}", sp_metadata, name)
        started.append(process)
        return idp

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
