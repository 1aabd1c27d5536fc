"""A search's result set as evidence: JSON, CSV, signed PDF and a bundle that verifies offline,
from the API and from the console's search page; the same rights as the search; every export
audited and listed on the compliance home."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from dealchat.access.rights import Right
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.cli.main import app
from dealchat.db.session import unit_of_work
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.keys import load_keyring
from dealchat.records.models import AuditEntry
from dealchat.records.pdf_fonts import NOTO_CJK
from dealchat.records.pdf_signing import verify_pdf
from dealchat.records.personal import reveal
from dealchat.records.reports_bundle import verify_bundle
from tests.compliance.conftest import OFF_CHANNEL
from tests.compliance.test_reviews import OFFICER, _log_in
from tests.compliance.test_search import staff_with
from tests.conftest import Clock
from tests.factories.access import token_for

URL = "/api/v1/search/export"
ALICE = {"client": "alice", "q": '"加我微信"'}


@pytest.fixture
def http(held_platform: Platform) -> Any:
    with TestClient(create_app(platform=held_platform)) as test_client:
        yield test_client


def _exporter(platform: Platform, name: str = "carol") -> dict[str, str]:
    user = staff_with(platform, name, OFFICER)
    return {"Authorization": f"Bearer {token_for(platform, user.id)}"}


def test_a_search_exports_its_hits_in_context_with_the_search_itself(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient, tmp_path: Path
) -> None:
    headers = _exporter(held_platform)
    exported = http.get(URL, params={**ALICE, "format": "json"}, headers=headers)
    assert exported.status_code == 200, exported.text
    assert "dealchat-search-" in exported.headers["content-disposition"]
    body = exported.json()
    assert body["selection"] is True
    assert json.loads(body["filters"]["search"]) == {"client": "alice", "text": '"加我微信"'}
    assert body["filters"]["matched"] == "1 message(s) in 1 conversation(s)"
    events = [row["event"] for row in body["rows"]]
    assert events[-1] == "search:run"  # this export's own search, last in log order
    searched = body["rows"][-1]["payload"]
    assert searched["query"] == {"client": "alice", "text": '"加我微信"'}
    texts = [row.get("text") for row in body["rows"] if row["event"].startswith("message:")]
    assert OFF_CHANNEL in texts
    assert len(texts) == 5  # the hit and the two messages before and after it
    assert "hello from bob" not in texts
    assert [row["seq"] for row in body["rows"]] == sorted(row["seq"] for row in body["rows"])

    table = http.get(URL, params={**ALICE, "format": "csv"}, headers=headers)
    assert table.status_code == 200
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert OFF_CHANNEL in [row["text"] for row in rows]

    bundle = http.get(URL, params={**ALICE, "format": "bundle"}, headers=headers).json()
    assert bundle["complete_subjects"] == []  # picked messages: no conversation claimed whole
    checked = verify_bundle(bundle, keys=load_keyring(held_platform.settings.keys_dir))
    assert checked.entries == len(bundle["entries"]) == len(body["rows"])
    assert OFF_CHANNEL in [item.get("text") for item in bundle["entries"]]
    saved = tmp_path / "search.bundle.json"  # as a regulator checks it: offline, the bank's key
    saved.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    settings = held_platform.settings
    vkey = CheckpointKeys.load(settings.keys_dir, settings.records.origin).signer.verifier.vkey
    checked_cli = CliRunner().invoke(app, ["audit", "verify-bundle", str(saved), "--key", vkey])
    assert checked_cli.exit_code == 0, checked_cli.output
    assert f"bundle OK: {len(body['rows'])} entries" in checked_cli.output
    bundle["entries"][0]["entry"]["actor"] = "someone else"
    saved.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    tampered = CliRunner().invoke(app, ["audit", "verify-bundle", str(saved), "--key", vkey])
    assert tampered.exit_code == 1
    assert "bundle FAILED" in tampered.output

    with unit_of_work(held_platform.sessions) as session:
        audited = [
            json.loads(payload)
            for payload in session.scalars(
                select(AuditEntry.payload)
                .where(AuditEntry.event == "report:exported")
                .order_by(AuditEntry.seq)
            )
        ]
    assert [entry["format"] for entry in audited] == ["json", "csv", "bundle"]
    assert all(entry["selection"] and "search" in entry["filters"] for entry in audited)


@pytest.mark.skipif(not NOTO_CJK.is_file(), reason="make fonts installs Debian's fonts-noto-cjk")
def test_the_search_pdf_reads_back_chinese_and_its_signature_validates(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    pdf = http.get(URL, params={**ALICE, "format": "pdf"}, headers=_exporter(held_platform))
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    words = "\n".join(page.extract_text() for page in reader.pages)
    assert OFF_CHANNEL in words
    assert "dealchat search export" in words
    certificate = held_platform.settings.keys_dir / "evidence" / "signer.crt"
    assert verify_pdf(pdf.content, cert_file=certificate).ok


def test_an_export_has_the_searchs_rights_and_its_errors(
    held_platform: Platform, alice_day: dict[str, Any], http: TestClient
) -> None:
    ldn_only = staff_with(
        held_platform,
        "lena",
        [(Right.AUDIT_EXPORT, {}), (Right.CONVERSATION_READ, {"desk": ["FX-LDN"]})],
    )
    headers = {"Authorization": f"Bearer {token_for(held_platform, ldn_only.id)}"}
    exported = http.get(URL, params={"q": "微信", "format": "json"}, headers=headers)
    assert exported.status_code == 200, exported.text
    rows = exported.json()["rows"]
    assert [row["event"] for row in rows] == ["search:run"]  # no hit from alice's chat
    with unit_of_work(held_platform.sessions) as session:
        denials = [
            reveal(session, json.loads(entry.payload))
            for entry in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.event == "access:denied", AuditEntry.actor == f"user:{ldn_only.id}"
                )
            )
        ]
    assert any(alice_day["alice"].id in d["operation"] for d in denials), denials
    reader = staff_with(
        held_platform, "rory", [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {})]
    )
    refused = http.get(
        URL,
        params={**ALICE, "format": "json"},
        headers={"Authorization": f"Bearer {token_for(held_platform, reader.id)}"},
    )
    assert refused.status_code == 403  # searching is not exporting
    officer = _exporter(held_platform)
    unknown = http.get(URL, params={"client": "nobody-here", "q": "x1"}, headers=officer)
    assert unknown.status_code == 404
    bad = http.get(URL, params={"q": "(guarantee"}, headers=officer)
    assert bad.status_code == 400
    assert "text query" in bad.json()["title"]


def test_the_search_page_links_each_export_and_the_home_lists_them(
    held_platform: Platform, alice_day: dict[str, Any], clock: Clock
) -> None:
    carol = staff_with(held_platform, "carol", OFFICER)
    console = create_app(platform=held_platform)
    with TestClient(console, base_url="https://testserver", follow_redirects=False) as browser:
        _log_in(browser, carol, clock)
        page = browser.get(
            "/console/search", params={**ALICE, "from": "2026-01-01", "to": "2030-01-01"}
        )
        links = re.findall(r'class="export" href="([^"]+)"', page.text)
        assert len(links) == 4, page.text
        pdf = next(link for link in links if "format=pdf" in link).replace("&amp;", "&")
        assert "from=2026-01-01T00%3A00%3A00%2B00%3A00" in pdf  # a date is UTC midnight
        downloaded = browser.get(pdf)
        assert downloaded.status_code == 200, downloaded.text
        assert downloaded.content.startswith(b"%PDF")
        home = browser.get("/console/compliance")
    assert "(carol)</td><td>pdf</td>" in home.text, home.text  # by whom, by name
    assert "加我微信" in home.text  # what was exported: the search's filters
    reader = staff_with(
        held_platform, "rory", [(Right.AUDIT_READ, {}), (Right.CONVERSATION_READ, {})]
    )
    with TestClient(console, base_url="https://testserver", follow_redirects=False) as browser:
        _log_in(browser, reader, clock)
        page = browser.get("/console/search", params=ALICE)
    assert page.status_code == 200
    assert 'class="export"' not in page.text  # no audit:export, no links
