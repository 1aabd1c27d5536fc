"""Documents: check an upload (size, type by content and extension, virus scan), store it sealed
under its conversation's data key, open it for whoever may download it. Every step audited.

The checks run outside any transaction (a scan may take seconds); `store` and `refuse` write in
the caller's transaction. Audit entries commit to the ciphertext's digest, the type, the size and
the scan verdict, never to the content or the file's name (both are sealed).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.db.base import new_id
from dealchat.documents.interfaces import ScanResult, Verdict, VirusScanner
from dealchat.documents.models import Document
from dealchat.documents.sniff import DEFAULT_ALLOWED, TYPES, Checked, RefusedError, check
from dealchat.records.envelope import ContentErasedError, Envelope, body_digest
from dealchat.records.events import AuditEvent
from dealchat.records.service import record

_REF_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
GONE = "This document was erased under the retention policy; it can no longer be read."


@dataclass(frozen=True)
class UploadRules:
    max_bytes: int = 10 * 1024 * 1024
    allowed: tuple[str, ...] = DEFAULT_ALLOWED

    def too_large(self) -> RefusedError:
        return RefusedError(
            "size", 413, f"The file is larger than the limit of {size_text(self.max_bytes)}."
        )


@dataclass(frozen=True)
class Accepted:
    """An upload that passed every check, ready to store."""

    checked: Checked
    data: bytes
    scan: ScanResult


@dataclass(frozen=True)
class Opened:
    document: Document
    filename: str
    data: bytes


def size_text(size: int) -> str:
    """1,536 -> "1.5 KiB"; 10,485,760 -> "10 MiB"; under 1 KiB in bytes."""
    if size < 1024:
        return f"{size} bytes"
    value, unit = size / 1024, "KiB"
    if value >= 1024:
        value, unit = value / 1024, "MiB"
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


def scope_of(conversation_id: str) -> str:
    """The conversation's data key scope (the same as its messages', conversations.bodies)."""
    return f"conversation:{conversation_id}"


def inspect(*, filename: str, data: bytes, rules: UploadRules, scanner: VirusScanner) -> Accepted:
    """Size, then type by content and extension, then the virus scan; RefusedError names the rule.
    A scanner that fails or cannot be reached refuses the upload (fail closed)."""
    if len(data) > rules.max_bytes:
        raise rules.too_large()
    checked = check(filename, data, allowed=rules.allowed)
    scan = scanner.scan(data)
    if scan.verdict is Verdict.INFECTED:
        raise ScanRefusedError(
            scan, "virus", 422, f"Refused: the virus scanner found {scan.signature or 'malware'}."
        )
    if scan.verdict is not Verdict.CLEAN:
        raise ScanRefusedError(
            scan,
            "scan",
            503,
            "Refused: the file could not be virus-scanned just now, so it was not accepted. "
            "Try again later.",
        )
    return Accepted(checked, data, scan)


class ScanRefusedError(RefusedError):
    """A refusal by the virus scan, carrying its result for the audit entry."""

    def __init__(self, scan: ScanResult, rule: str, status: int, message: str) -> None:
        super().__init__(rule, status, message)
        self.scan = scan


def store(
    session: Session,
    *,
    envelope: Envelope,
    accepted: Accepted,
    conversation_id: str,
    user_id: str,
    actor: str,
    now: dt.datetime,
) -> Document:
    """Seal the content and its name under the conversation's data key; audit `document:stored`."""
    doc_type = accepted.checked.doc_type
    document = Document(
        id=new_id(),
        ref=_new_ref(),
        conversation_id=conversation_id,
        uploaded_by=user_id,
        doc_type=doc_type.name,
        media_type=doc_type.media_type,
        size=len(accepted.data),
        scan_engine=accepted.scan.engine,
        created_at=now,
    )
    scope = scope_of(conversation_id)
    body = envelope.seal_bytes(
        session, scope=scope, context=_context(document.id), data=accepted.data, now=now
    )
    name = envelope.seal(
        session,
        scope=scope,
        context=_name_context(document.id),
        plaintext=accepted.checked.filename,
        now=now,
    )
    document.data_key_id, document.body, document.name_sealed = (
        body.data_key_id,
        body.blob,
        name.blob,
    )
    document.body_sha256 = body.digest
    session.add(document)
    session.flush()
    record(
        session,
        event=AuditEvent.DOCUMENT_STORED,
        actor=actor,
        subject=scope,
        payload={
            "document": document.id,
            "ref": document.ref,
            "uploaded_by": user_id,
            "data_key": body.data_key_id,
            "body_sha256": body.digest,
            "name_sha256": name.digest,
            "type": doc_type.name,
            "media_type": doc_type.media_type,
            "size": document.size,
            "scan": {"verdict": accepted.scan.verdict.value, "engine": accepted.scan.engine},
        },
    )
    return document


def refuse(
    session: Session,
    *,
    refusal: RefusedError,
    conversation_id: str,
    user_id: str,
    actor: str,
    size: int | None,
) -> None:
    """Audit a refused upload (nothing of it is kept): the rule, the size, and for a scan refusal
    the verdict, the signature and the engine."""
    payload: dict[str, Any] = {
        "rule": refusal.rule,
        "status": refusal.status,
        "uploaded_by": user_id,
        "size": size,
    }
    if isinstance(refusal, ScanRefusedError):
        scan = refusal.scan
        payload["scan"] = {
            "verdict": scan.verdict.value,
            "signature": scan.signature,
            "engine": scan.engine,
            "detail": scan.detail,
        }
    record(
        session,
        event=AuditEvent.DOCUMENT_REFUSED,
        actor=actor,
        subject=scope_of(conversation_id),
        payload=payload,
    )


def open_document(
    session: Session, *, envelope: Envelope, document: Document, actor: str, via: str
) -> Opened:
    """The content and name, audited as `document:downloaded`; ContentErasedError once the
    conversation's data key was destroyed (the caller audits the refusal: `refuse_download`)."""
    data = envelope.open_bytes(
        session, data_key_id=document.data_key_id, blob=document.body, context=_context(document.id)
    )
    name = envelope.open(
        session,
        data_key_id=document.data_key_id,
        blob=document.name_sealed,
        context=_name_context(document.id),
    )
    record(
        session,
        event=AuditEvent.DOCUMENT_DOWNLOADED,
        actor=actor,
        subject=scope_of(document.conversation_id),
        payload={
            "document": document.id,
            "ref": document.ref,
            "body_sha256": document.body_sha256,
            "via": via,
        },
    )
    return Opened(document, name, data)


def refuse_download(
    session: Session, *, document: Document, actor: str, via: str, reason: str
) -> None:
    """Audit a refused download of a stored document (`erased`, `not-uploader`) in its
    conversation's stream; the caller commits it with the refusal it answers."""
    record(
        session,
        event=AuditEvent.DOCUMENT_DOWNLOAD_REFUSED,
        actor=actor,
        subject=scope_of(document.conversation_id),
        payload={"document": document.id, "ref": document.ref, "via": via, "reason": reason},
    )


def display_name(session: Session, *, envelope: Envelope, document: Document) -> str | None:
    """The file's name for a listing, or None once erased (not audited: a name is no download)."""
    try:
        return envelope.open(
            session,
            data_key_id=document.data_key_id,
            blob=document.name_sealed,
            context=_name_context(document.id),
        )
    except ContentErasedError:
        return None


def find(session: Session, ref_or_id: str) -> Document | None:
    return session.scalar(
        select(Document).where((Document.ref == ref_or_id) | (Document.id == ref_or_id))
    )


def of_conversation(session: Session, conversation_id: str) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.conversation_id == conversation_id)
            .order_by(Document.created_at, Document.id)
        )
    )


def uploaded_by(session: Session, user_id: str) -> list[Document]:
    return list(
        session.scalars(
            select(Document)
            .where(Document.uploaded_by == user_id)
            .order_by(Document.created_at.desc())
            .limit(100)
        )
    )


def recent(session: Session, *, limit: int = 100) -> list[Document]:
    return list(session.scalars(select(Document).order_by(Document.created_at.desc()).limit(limit)))


def label_of(document: Document) -> str:
    found = TYPES.get(document.doc_type)
    return found.label if found else document.doc_type


def ciphertext_digest_ok(document: Document) -> bool:
    """The stored ciphertext is what the audit entry committed to."""
    return body_digest(document.body) == document.body_sha256


def _new_ref() -> str:
    return "DOC-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))


def _context(document_id: str) -> str:
    return f"document:{document_id}"


def _name_context(document_id: str) -> str:
    return f"document-name:{document_id}"
