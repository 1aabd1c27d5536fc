"""The documents service on SQLite and PostgreSQL with a real clamd: a clean upload stored
sealed under its conversation's data key (plaintext absent from the raw rows), EICAR refused with
its signature, a scanner that cannot answer refusing (fail closed), retention erasing a document
while the log still verifies, and a legal hold keeping it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from dealchat.api.deps import Platform
from dealchat.conversations.holds import scopes_for_hold
from dealchat.conversations.models import Conversation
from dealchat.db.session import unit_of_work
from dealchat.documents import service as documents
from dealchat.documents.clamav import ClamdAddress, ClamdScanner
from dealchat.documents.interfaces import Verdict, VirusScanner
from dealchat.documents.models import Document
from dealchat.documents.sniff import RefusedError
from dealchat.records import retention
from dealchat.records.envelope import ContentErasedError
from dealchat.records.models import AuditEntry
from dealchat.records.service import verify
from dealchat.settings import Settings
from tests.conftest import Clock
from tests.documents.clamd import EICAR_SIGNATURE, Clamd, eicar
from tests.factories import documents as files
from tests.factories.identity import make_user

RULES = documents.UploadRules()
SEVEN_YEARS = retention.RetentionPolicy({"chat": 7, "orders": 7, "access_logs": 2})


@pytest.fixture
def settings(database_url: str, tmp_path: Path, clamd: Clamd) -> Settings:
    return Settings(
        data_dir=tmp_path / "var", database_url=database_url, documents={"clamd": clamd.url}
    )


@pytest.fixture
def chat(platform: Platform) -> dict[str, str]:
    user = make_user(platform)
    with unit_of_work(platform.sessions) as session:
        conversation = Conversation(channel="webchat", external_id="conv-docs-01")
        session.add(conversation)
        session.flush()
        return {"conversation": conversation.id, "user": user.id}


def _upload(
    platform: Platform,
    chat: dict[str, str],
    name: str,
    data: bytes,
    *,
    scanner: VirusScanner | None = None,
) -> str:
    """The service path the upload page takes: inspect outside the transaction, then store or
    audit the refusal inside it. Returns the document id; re-raises a refusal."""
    try:
        accepted = documents.inspect(
            filename=name, data=data, rules=RULES, scanner=scanner or platform.scanner
        )
    except RefusedError as refused:
        with unit_of_work(platform.sessions) as session:
            documents.refuse(
                session,
                refusal=refused,
                conversation_id=chat["conversation"],
                user_id=chat["user"],
                actor=f"user:{chat['user']}",
                size=len(data),
            )
        raise
    with unit_of_work(platform.sessions) as session:
        stored = documents.store(
            session,
            envelope=platform.desk.envelope,
            accepted=accepted,
            conversation_id=chat["conversation"],
            user_id=chat["user"],
            actor=f"user:{chat['user']}",
            now=platform.desk.clock(),
        )
        return stored.id


def _entries(platform: Platform, event: str) -> list[dict[str, Any]]:
    with unit_of_work(platform.sessions) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.event == event)).all()
        return [{"subject": row.subject, **json.loads(row.payload)} for row in rows]


def _open(platform: Platform, document_id: str) -> documents.Opened:
    with unit_of_work(platform.sessions) as session:
        document = session.get(Document, document_id)
        assert document is not None
        return documents.open_document(
            session, envelope=platform.desk.envelope, document=document, actor="test", via="test"
        )


def test_a_clean_upload_is_stored_sealed_and_the_audit_commits_to_the_ciphertext(
    platform: Platform, chat: dict[str, str]
) -> None:
    data = files.pdf()
    document_id = _upload(platform, chat, "ACME margin call.pdf", data)
    with platform.engine.connect() as connection:
        raw = connection.execute(
            text("SELECT body, name_sealed, body_sha256 FROM document WHERE id = :id"),
            {"id": document_id},
        ).one()
    body, name_sealed = bytes(raw[0]), bytes(raw[1])
    assert files.SECRET_LINE.encode() in data  # the plaintext carries the words ...
    assert files.SECRET_LINE.encode() not in body  # ... the stored row does not
    assert b"%PDF" not in body
    assert b"ACME" not in name_sealed
    assert raw[2] == hashlib.sha256(body).hexdigest()
    [stored] = _entries(platform, "document:stored")
    assert stored["subject"] == f"conversation:{chat['conversation']}"
    assert stored["body_sha256"] == raw[2]
    assert stored["name_sha256"] == hashlib.sha256(name_sealed).hexdigest()
    assert (stored["type"], stored["size"]) == ("pdf", len(data))
    assert stored["scan"]["verdict"] == "clean"
    assert stored["scan"]["engine"].startswith("ClamAV")
    assert "ACME" not in json.dumps(stored)  # the file's name is content: never in the log
    opened = _open(platform, document_id)
    assert (opened.data, opened.filename) == (data, "ACME margin call.pdf")
    [download] = _entries(platform, "document:downloaded")
    assert download["body_sha256"] == raw[2]


def test_eicar_is_refused_by_clamd_with_its_signature_and_nothing_is_kept(
    platform: Platform, chat: dict[str, str]
) -> None:
    with pytest.raises(RefusedError) as refused:
        _upload(platform, chat, "invoice.txt", eicar())  # text by type: only the scan finds it
    assert (refused.value.rule, refused.value.status) == ("virus", 422)
    assert EICAR_SIGNATURE in refused.value.message
    [entry] = _entries(platform, "document:refused")
    assert entry["rule"] == "virus"
    assert entry["scan"]["verdict"] == "infected"
    assert entry["scan"]["signature"] == EICAR_SIGNATURE
    assert entry["scan"]["engine"].startswith("ClamAV")
    with unit_of_work(platform.sessions) as session:
        assert session.scalars(select(Document)).all() == []


def test_a_scanner_that_cannot_answer_refuses_the_upload(
    platform: Platform, chat: dict[str, str], tmp_path: Path
) -> None:
    gone = ClamdScanner(
        ClamdAddress("unix", str(tmp_path / "no-clamd.sock")), connect_timeout=1, read_timeout=1
    )
    assert gone.scan(b"x").verdict is Verdict.FAILED
    with pytest.raises(RefusedError) as refused:
        _upload(platform, chat, "statement.pdf", files.pdf(), scanner=gone)
    assert (refused.value.rule, refused.value.status) == ("scan", 503)
    [entry] = _entries(platform, "document:refused")
    assert entry["scan"]["verdict"] == "failed"
    assert entry["scan"]["detail"]


def test_type_and_size_refusals_are_audited_before_any_scan(
    platform: Platform, chat: dict[str, str]
) -> None:
    small = documents.UploadRules(max_bytes=1024)
    with pytest.raises(RefusedError) as too_big:
        documents.inspect(
            filename="big.pdf",
            data=files.pdf() + bytes(2048),
            rules=small,
            scanner=platform.scanner,
        )
    assert (too_big.value.rule, too_big.value.status) == ("size", 413)
    assert "1 KiB" in too_big.value.message
    with pytest.raises(RefusedError):
        _upload(platform, chat, "chart.pdf", files.image("PNG"))
    assert [e["rule"] for e in _entries(platform, "document:refused")] == ["mismatch"]


def _run(platform: Platform, now: dt.datetime) -> dict[str, Any]:
    with unit_of_work(platform.sessions) as session:
        return retention.run(
            session,
            envelope=platform.desk.envelope,
            policy=SEVEN_YEARS,
            resolve=scopes_for_hold,
            now=now,
            actor="test",
        )


def test_retention_erases_a_document_with_its_conversation_and_every_proof_still_verifies(
    platform: Platform, chat: dict[str, str], clock: Clock
) -> None:
    document_id = _upload(platform, chat, "letter.docx", files.docx())
    report = _run(platform, retention.add_years(clock.now, 7) + dt.timedelta(days=1))
    assert {item["scope"] for item in report["erased_scopes"] if item["class"] == "chat"} == {
        f"conversation:{chat['conversation']}"
    }  # (the users' access-log months, sealing their usernames, expired too)
    with pytest.raises(ContentErasedError):
        _open(platform, document_id)
    with unit_of_work(platform.sessions) as session:
        assert verify(session).ok
        document = session.get(Document, document_id)
        assert document is not None
        assert documents.ciphertext_digest_ok(document)  # the ciphertext stays, unreadable
        name = documents.display_name(session, envelope=platform.desk.envelope, document=document)
        assert name is None


def test_a_legal_hold_on_the_conversation_keeps_its_documents(
    platform: Platform, chat: dict[str, str], clock: Clock
) -> None:
    workbook = files.xlsx()
    document_id = _upload(platform, chat, "book.xlsx", workbook)
    with unit_of_work(platform.sessions) as session:
        retention.set_hold(
            session,
            kind="conversation",
            target=chat["conversation"],
            reason="SFC inquiry 2026/4",
            actor="user:compliance",
            now=clock.now,
        )
    report = _run(platform, retention.add_years(clock.now, 8))
    chat_erased = [item for item in report["erased_scopes"] if item["class"] == "chat"]
    assert (chat_erased, report["held"]) == ([], 1)
    opened = _open(platform, document_id)
    assert (opened.data, opened.filename) == (workbook, "book.xlsx")
