"""Evidence PDFs: Chinese (both scripts), Japanese and Korean read back exactly, and a PAdES
signature pyHanko validates against the bank's evidence certificate; any change breaks it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.records.pdf_fonts import NOTO_CJK
from dealchat.records.pdf_signing import verify_pdf
from tests.compliance.conftest import OFF_CHANNEL
from tests.conftest import Clock
from tests.factories.access import give_role, token_for
from tests.factories.chat import Chat
from tests.factories.identity import make_user

SCRIPTS = "賣出兩百萬英鎊 日本語のテキスト 한국어 텍스트"

pytestmark = pytest.mark.skipif(
    not NOTO_CJK.is_file(), reason="make fonts installs Debian's fonts-noto-cjk"
)


def _pdf(platform: Platform, params: dict[str, str]) -> bytes:
    carol = make_user(platform, "carol", kind="internal")
    give_role(platform, "carol", "compliance", [Right.AUDIT_EXPORT])
    headers = {"Authorization": f"Bearer {token_for(platform, carol.id)}"}
    with TestClient(create_app(platform=platform)) as http:
        response = http.get("/api/v1/audit/reports", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_client_pdf_reads_back_every_script_and_its_signature_validates(
    held_platform: Platform, alice_day: dict[str, Any], clock: Clock
) -> None:
    with TestClient(create_app(platform=held_platform)) as http:
        Chat(http, clock, conversation="conv-alice-77", sender="sender-alice-77").say(SCRIPTS)
    pdf = _pdf(held_platform, {"client": "alice", "format": "pdf"})
    words = _text(pdf)
    assert OFF_CHANNEL in words
    assert SCRIPTS in words
    folder = held_platform.settings.keys_dir / "evidence"
    assert (folder / "signer.key").stat().st_mode & 0o777 == 0o600
    checked = verify_pdf(pdf, cert_file=folder / "signer.crt")
    assert checked.ok, checked
    assert "dealchat evidence signer" in checked.signer


def test_a_changed_pdf_fails_and_the_cli_says_so(
    held_platform: Platform,
    alice_day: dict[str, Any],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pdf = _pdf(held_platform, {"client": "alice", "format": "pdf"})
    cert = held_platform.settings.keys_dir / "evidence" / "signer.crt"
    good, bad = tmp_path / "good.pdf", tmp_path / "bad.pdf"
    good.write_bytes(pdf)
    at = pdf.index(b"(dealchat audit report)")  # the document's title, in the signed bytes
    bad.write_bytes(pdf[:at] + b"(dealchat audit rep0rt)" + pdf[at + 23 :])
    assert not verify_pdf(bad.read_bytes(), cert_file=cert).ok
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify-pdf", str(good), "--cert", str(cert)])
    assert ok.exit_code == 0, ok.output
    assert "pdf OK" in ok.output
    failed = runner.invoke(app, ["audit", "verify-pdf", str(bad), "--cert", str(cert)])
    assert failed.exit_code == 1
    assert "pdf FAILED" in failed.output
