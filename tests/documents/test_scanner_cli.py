"""`dealchat documents check` and the demo's scanner, as an operator meets them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from dealchat.cli.demo import demo_scanner
from dealchat.cli.main import app
from dealchat.documents import local_clamd
from dealchat.documents.eicar import eicar
from dealchat.documents.interfaces import Verdict
from dealchat.documents.scanners import scanner_from
from dealchat.settings import Settings
from tests.documents.clamd import EICAR_SIGNATURE, Clamd


def _check(tmp_path: Path, clamd: str | None) -> Result:
    env = {"DEALCHAT_DATA_DIR": str(tmp_path)}
    if clamd is not None:
        env["DEALCHAT_DOCUMENTS__CLAMD"] = clamd
    return CliRunner().invoke(app, ["documents", "check"], env=env)


def test_check_reports_engine_and_detection(clamd: Clamd, tmp_path: Path) -> None:
    result = _check(tmp_path, clamd.url)
    assert result.exit_code == 0, result.output
    assert f"scanner: clamd at {clamd.url}" in result.output
    assert "engine: ClamAV " in result.output
    assert "clean sample: clean" in result.output
    assert f"EICAR test file: detected as {EICAR_SIGNATURE}" in result.output


def test_check_without_a_scanner_says_uploads_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEALCHAT_DOCUMENTS__CLAMD", raising=False)
    result = _check(tmp_path, None)
    assert result.exit_code == 1
    assert "Uploads are refused" in result.output
    assert "DEALCHAT_DOCUMENTS__CLAMD" in result.output


def test_check_of_a_clamd_that_is_not_running(tmp_path: Path) -> None:
    result = _check(tmp_path, f"unix://{tmp_path}/clamd.sock")
    assert result.exit_code == 1
    assert "not answering: cannot connect" in result.output


def test_demo_starts_a_local_clamd_that_really_scans(clamd_installed: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    with demo_scanner(settings) as (scanning, message):
        assert scanning.documents.clamd is not None
        assert "Uploads are scanned by a local clamd (ClamAV " in message
        scanner = scanner_from(scanning.documents)
        assert scanner.scan(eicar()).signature == EICAR_SIGNATURE
        assert scanner.scan(b"a term sheet").verdict is Verdict.CLEAN
    assert scanner.ping() is False  # stopped with the demo


def test_demo_uses_the_configured_clamd(clamd: Clamd, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, documents={"clamd": clamd.url})
    with demo_scanner(settings) as (scanning, message):
        assert scanning is settings
        assert message == f"Uploads are scanned by clamd at {clamd.url}."


def test_demo_without_clamd_says_uploads_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_clamd, "CLAMD_PATHS", ())  # a host without clamav-daemon
    monkeypatch.setenv("PATH", str(tmp_path))
    settings = Settings(data_dir=tmp_path)
    with demo_scanner(settings) as (scanning, message):
        assert scanning.documents.clamd is None
        assert message.startswith("Uploads are refused: clamd is not installed (make clamav).")
        assert scanner_from(scanning.documents).scan(b"x").verdict is Verdict.FAILED
