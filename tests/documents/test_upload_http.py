"""Uploads as a user makes them, on SQLite and PostgreSQL with a real clamd: `upload` in chat,
the single-use link and its CSRF-protected page, every refusal rule over HTTP, the bot's
confirmation in the conversation, downloads with and without the right, and 410 after erasure."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealchat.access import service as access
from dealchat.api import multipart
from dealchat.api.deps import Platform
from dealchat.app import create_app
from dealchat.conversations import bodies, replies, reporting
from dealchat.conversations.models import Conversation, Message
from dealchat.db.session import unit_of_work
from dealchat.documents.clamav import ClamdAddress, ClamdScanner
from dealchat.documents.models import Document
from dealchat.documents.service import size_text
from dealchat.documents.sniff import TYPES
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.documents.clamd import EICAR_SIGNATURE, Clamd, eicar
from tests.factories import documents as files
from tests.factories.access import token_for
from tests.factories.audit import entries
from tests.factories.chat import Chat
from tests.factories.identity import TestUser, make_user

LIMIT = 256 * 1024


@pytest.fixture
def settings(database_url: str, tmp_path: Path, clamd: Clamd) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        documents={"clamd": clamd.url, "max_upload_bytes": LIMIT},
    )


def _browser(platform: Platform) -> TestClient:
    return TestClient(
        create_app(platform=platform),
        base_url="https://testserver",  # the CSRF cookie is __Host-: Secure
        raise_server_exceptions=False,
        follow_redirects=False,
    )


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    with _browser(platform) as test_client:
        yield test_client


@pytest.fixture
def people(platform: Platform) -> dict[str, TestUser]:
    """alice and mallory are clients; carol is compliance (document:download, no upload);
    dave is internal with no role at all."""
    found = {
        "alice": make_user(platform, "alice"),
        "mallory": make_user(platform, "mallory"),
        "carol": make_user(platform, "carol", kind="internal"),
        "dave": make_user(platform, "dave", kind="internal"),
    }
    with unit_of_work(platform.sessions) as session:
        access.seed_defaults(session)
        system = access.system_actor()
        for name, role in (("alice", "client"), ("mallory", "client"), ("carol", "compliance")):
            access.assign(session, actor=system, role=role, username=name)
    return found


@pytest.fixture
def alice_chat(browser: TestClient, clock: Clock, people: dict[str, TestUser]) -> Chat:
    chat = Chat(browser, clock, conversation="conv-alice-01", sender="sender-alice-01")
    chat.link_and_log_in(people["alice"])
    return chat


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def _upload(
    browser: TestClient, chat: Chat, name: str, data: bytes, *, csrf: bool = True
) -> tuple[httpx.Response, str]:
    """`upload` in chat, open the link's page, send the file. The response and the link's path."""
    path = chat.link("upload")
    assert path.startswith("/documents/links/")
    form = browser.get(path)
    assert form.status_code == 200, form.text
    assert 'enctype="multipart/form-data"' in form.text
    fields = {"csrf_token": _csrf(form.text)} if csrf else {}
    response = browser.post(path, data=fields, files={"file": (name, data, "application/x-any")})
    return response, path


def _entries(platform: Platform, event: str) -> list[dict[str, Any]]:
    return entries(platform, event)  # sealed access-log details opened, as the log reads them


def _bearer(platform: Platform, user: TestUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(platform, user.id)}"}


def test_upload_in_chat_stores_confirms_and_the_link_works_once(
    browser: TestClient, alice_chat: Chat, platform: Platform
) -> None:
    data = files.pdf()
    response, path = _upload(browser, alice_chat, "Margin call.pdf", data)
    assert response.status_code == 201, response.text
    ref = re.search(r"DOC-[A-Z0-9]{8}", response.text)
    assert ref, response.text
    again = browser.post(
        path, data={"csrf_token": "x"}, files={"file": ("b.pdf", data, "application/pdf")}
    )
    assert again.status_code == 404  # single use: the replay is refused, nothing stored
    assert browser.get(path).status_code == 404
    with unit_of_work(platform.sessions) as session:
        assert len(session.scalars(select(Document)).all()) == 1
        conversation = session.scalars(select(Conversation)).one()
        said = [
            bodies.text_of(session, platform.desk, row)
            for row in session.scalars(
                select(Message).where(
                    Message.conversation_id == conversation.id, Message.direction == "out"
                )
            )
        ]
    confirmation = [text for text in said if text.startswith(f"Received {ref.group(0)}")]
    assert confirmation == [
        f"Received {ref.group(0)}: Margin call.pdf (a PDF document, {size_text(len(data))}), "
        "virus-scanned and stored encrypted with this conversation."
    ]
    [issued] = [
        e for e in _entries(platform, "report:link_issued") if e["params"]["purpose"] == "upload"
    ]
    assert issued["params"]["conversation"] == conversation.id


def test_a_post_without_the_forms_csrf_token_is_refused_and_keeps_the_link(
    browser: TestClient, alice_chat: Chat, platform: Platform
) -> None:
    response, path = _upload(browser, alice_chat, "a.pdf", files.pdf(), csrf=False)
    assert response.status_code == 403
    assert "form expired" in response.text
    fresh = browser.get(path)
    ok = browser.post(
        path,
        data={"csrf_token": _csrf(fresh.text)},
        files={"file": ("a.pdf", files.pdf(), "application/pdf")},
    )
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("big.txt", b"a" * (LIMIT + 1), (413, "size", "larger than the limit of 256 KiB")),
        ("setup.exe", b"MZ\x90\x00", (415, "extension", "Files with .exe are not accepted")),
        ("statement.pdf", b"MZ\x90\x00\x03", (415, "content", "not an allowed type")),
        ("chart.pdf", files.image("PNG"), (422, "mismatch", "the content is a PNG image")),
        ("letter.docx", files.docx(main=files.DOCM_MAIN), (415, "content", "not an allowed")),
        ("invoice.txt", eicar(), (422, "virus", EICAR_SIGNATURE)),
    ],
)
def test_each_refusal_names_its_rule_and_is_audited(
    browser: TestClient,
    alice_chat: Chat,
    platform: Platform,
    *,
    name: str,
    data: bytes,
    expected: tuple[int, str, str],
) -> None:
    status, rule, words = expected
    response, _ = _upload(browser, alice_chat, name, data)
    assert response.status_code == status, response.text
    assert words in response.text
    [refused] = _entries(platform, "document:refused")
    assert refused["rule"] == rule
    with unit_of_work(platform.sessions) as session:
        assert session.scalars(select(Document)).all() == []


def test_an_unreachable_scanner_refuses_every_upload(
    platform: Platform, clock: Clock, people: dict[str, TestUser], tmp_path: Path
) -> None:
    gone = ClamdScanner(ClamdAddress("unix", str(tmp_path / "none.sock")), connect_timeout=1)
    with _browser(dataclasses.replace(platform, scanner=gone)) as browser:
        chat = Chat(browser, clock, conversation="conv-alice-02", sender="sender-alice-02")
        chat.link_and_log_in(people["alice"])
        response, _ = _upload(browser, chat, "statement.pdf", files.pdf())
    assert response.status_code == 503
    assert "could not be virus-scanned" in response.text
    [refused] = _entries(platform, "document:refused")
    assert (refused["rule"], refused["scan"]["verdict"]) == ("scan", "failed")


def test_who_gets_an_upload_link(
    browser: TestClient, platform: Platform, clock: Clock, people: dict[str, TestUser]
) -> None:
    stranger = Chat(browser, clock, conversation="conv-anon-01", sender="sender-anon-01")
    [login] = stranger.say("upload")
    assert urlparse(login["link"]).path.startswith("/link/")  # log in first (level 1)
    dave = Chat(browser, clock, conversation="conv-dave-01", sender="sender-dave-01")
    dave.link_and_log_in(people["dave"])
    refused = dave.say("upload a document")
    assert [(r["text"], r["link"]) for r in refused] == [(replies.UPLOAD_REFUSED, None)]
    carol = Chat(browser, clock, conversation="conv-carol-01", sender="sender-carol-01")
    carol.link_and_log_in(people["carol"])
    assert carol.say("upload")[0]["text"] == replies.UPLOAD_REFUSED  # compliance: no upload
    decisions = _entries(platform, "access:denied")
    assert {d["operation"] for d in decisions} >= {"upload", "intent upload (level 1)"}


def test_downloads_need_the_right_or_to_be_the_uploader_and_are_audited(
    browser: TestClient, alice_chat: Chat, platform: Platform, people: dict[str, TestUser]
) -> None:
    data = files.docx()
    response, _ = _upload(browser, alice_chat, "Résumé 2026.docx", data)
    assert response.status_code == 201, response.text
    ref = re.search(r"DOC-[A-Z0-9]{8}", response.text).group(0)  # type: ignore[union-attr]
    staff = browser.get(f"/api/v1/documents/{ref}", headers=_bearer(platform, people["carol"]))
    assert staff.status_code == 200, staff.text
    assert staff.content == data
    assert staff.headers["content-type"] == TYPES["docx"].media_type
    assert staff.headers["content-disposition"] == (
        "attachment; filename=\"R_sum_ 2026.docx\"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026.docx"
    )
    assert staff.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in staff.headers["content-security-policy"]
    assert (
        browser.get(
            f"/api/v1/documents/{ref}", headers=_bearer(platform, people["dave"])
        ).status_code
        == 403
    )
    mine = browser.get(f"/api/v1/documents/mine/{ref}", headers=_bearer(platform, people["alice"]))
    assert mine.status_code == 200
    assert mine.content == data
    theirs = browser.get(
        f"/api/v1/documents/mine/{ref}", headers=_bearer(platform, people["mallory"])
    )
    assert theirs.status_code == 404
    assert (
        browser.get(
            f"/api/v1/documents/{ref}", headers=_bearer(platform, people["alice"])
        ).status_code
        == 403
    )
    listed = browser.get("/api/v1/documents/mine", headers=_bearer(platform, people["alice"]))
    assert [(d["ref"], d["name"], d["type"]) for d in listed.json()] == [
        (ref, "Résumé 2026.docx", "docx")
    ]
    downloads = _entries(platform, "document:downloaded")
    assert [(d["ref"], d["via"]) for d in downloads] == [(ref, "api"), (ref, "api:mine")]
    [refused] = _entries(platform, "document:download_refused")  # mallory asked for alice's
    assert (refused["ref"], refused["reason"], refused["actor"]) == (
        ref,
        "not-uploader",
        f"user:{people['mallory'].id}",
    )
    assert refused["subject"] == downloads[0]["subject"]  # in the conversation's stream
    denied = [d for d in _entries(platform, "access:denied") if ref in str(d.get("operation"))]
    assert {d["user_id"] for d in denied} == {people["dave"].id, people["alice"].id}
    assert {d["right"] for d in denied} == {"document:download"}


def test_an_erased_conversations_document_is_gone_and_the_log_verifies(
    browser: TestClient, alice_chat: Chat, platform: Platform, people: dict[str, TestUser]
) -> None:
    response, _ = _upload(browser, alice_chat, "notes.txt", "Bonjour €".encode())
    assert response.status_code == 201, response.text
    ref = re.search(r"DOC-[A-Z0-9]{8}", response.text).group(0)  # type: ignore[union-attr]
    with unit_of_work(platform.sessions) as session:
        document = session.scalars(select(Document)).one()
        platform.desk.envelope.destroy(
            session,
            scope=f"conversation:{document.conversation_id}",
            reason="client's erasure request",
            actor="user:compliance",
            now=platform.desk.clock(),
        )
    for path, who in (
        (f"/api/v1/documents/{ref}", "carol"),
        (f"/api/v1/documents/mine/{ref}", "alice"),
    ):
        gone = browser.get(path, headers=_bearer(platform, people[who]))
        assert gone.status_code == 410
        assert gone.json()["title"] == (
            "This document was erased under the retention policy; it can no longer be read."
        )
    listed = browser.get("/api/v1/documents", headers=_bearer(platform, people["carol"]))
    assert [(d["ref"], d["name"]) for d in listed.json()] == [(ref, None)]
    refused = _entries(platform, "document:download_refused")  # committed with the 410
    assert [(r["ref"], r["via"], r["reason"], r["actor"]) for r in refused] == [
        (ref, "api", "erased", f"user:{people['carol'].id}"),
        (ref, "api:mine", "erased", f"user:{people['alice'].id}"),
    ]
    assert _entries(platform, "document:downloaded") == []
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok


async def _endless() -> AsyncIterator[bytes]:
    chunk = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n'
    yield chunk
    while True:
        yield b"x" * 65536


def test_the_reader_stops_at_the_cap_without_a_content_length() -> None:
    """A chunked body that never ends: refused once past the cap, never read to its end."""
    stream = _endless()
    with pytest.raises(multipart.BodyTooLargeError):
        asyncio.run(
            multipart.read_form(
                content_type="multipart/form-data; boundary=b",
                content_length=None,
                stream=stream,
                file_field="file",
                limit=LIMIT,
            )
        )


def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    stream = _endless()
    with pytest.raises(multipart.BodyTooLargeError):
        asyncio.run(
            multipart.read_form(
                content_type="multipart/form-data; boundary=b",
                content_length=str(LIMIT * 10),
                stream=stream,
                file_field="file",
                limit=LIMIT,
            )
        )


def _console_login(browser: TestClient, user: TestUser, clock: Clock) -> None:
    page = browser.get("/console/login")
    form = {
        "username": user.username,
        "password": user.password,
        "otp": user.code(clock.now.timestamp()),
        "csrf_token": _csrf(page.text),
    }
    assert browser.post("/console/login", data=form).status_code == 303
    clock.advance(30)


def test_the_console_lists_and_downloads_for_holders_of_the_right(
    browser: TestClient,
    alice_chat: Chat,
    platform: Platform,
    clock: Clock,
    people: dict[str, TestUser],
) -> None:
    response, _ = _upload(browser, alice_chat, "trades <q3>.csv", b"pair,amount\nEURUSD,1000000\n")
    assert response.status_code == 201, response.text
    ref = re.search(r"DOC-[A-Z0-9]{8}", response.text).group(0)  # type: ignore[union-attr]
    _console_login(browser, people["carol"], clock)
    listing = browser.get("/console/documents")
    assert listing.status_code == 200
    assert f'href="/console/documents/{ref}"' in listing.text
    assert "trades_q3_.csv" in listing.text  # the sanitised name, escaped by the template
    assert 'href="/console/documents"' in listing.text  # in the nav for compliance
    download = browser.get(f"/console/documents/{ref}")
    assert download.status_code == 200
    assert download.content == b"pair,amount\nEURUSD,1000000\n"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    browser.cookies.clear()
    _console_login(browser, people["dave"], clock)
    assert browser.get("/console/documents").status_code == 403
    assert browser.get(f"/console/documents/{ref}").status_code == 403
    assert [d["via"] for d in _entries(platform, "document:downloaded")] == ["console"]


def test_the_conversations_audit_report_lists_its_documents(
    browser: TestClient, alice_chat: Chat, platform: Platform
) -> None:
    response, _ = _upload(browser, alice_chat, "chart.png", files.image("PNG"))
    assert response.status_code == 201, response.text
    _upload(browser, alice_chat, "setup.exe", b"MZ")
    with unit_of_work(platform.sessions) as session:
        conversation = session.scalars(select(Conversation)).one()
        document = session.scalars(select(Document)).one()
        report = reporting.build(
            session, platform.desk, start=None, end=None, conversation=conversation.id
        )
    rows = {row.event: row for row in report.rows}
    stored = rows["document:stored"]
    assert stored.text == f"document {document.ref}: chart.png"
    assert json.loads(stored.payload)["body_sha256"] == document.body_sha256
    assert json.loads(rows["document:refused"].payload)["rule"] == "extension"
