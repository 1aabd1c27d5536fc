"""`/api/v1/documents`: uploaded documents, listed and downloaded by staff holding
document:download, and by the uploader (a client too) through its own signed-in session or token.

A download is an attachment of the type its content was recognised as, never rendered inline
(`Content-Disposition: attachment`, `nosniff`, a sandboxing CSP), and every one is audited
(`document:downloaded`, with the digest of the ciphertext served). A document whose conversation's
data key was destroyed by retention is 410 Gone, and someone else's upload asked for at /mine is
404 as if it did not exist; both refusals are audited (`document:download_refused`, with the
reason) and committed with the answer. A caller without the right is refused before the route
runs, by the access log's `access:denied` (its operation names the path, so the document).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel
from sqlalchemy.orm import Session

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, commit_denial, require, signed_in
from dealchat.documents import service as documents
from dealchat.documents.models import Document
from dealchat.errors import DealchatError, ErrorCode
from dealchat.records.envelope import ContentErasedError, Envelope

router = APIRouter(prefix="/api/v1/documents", tags=["documents"])

Reader = Annotated[Actor, Depends(require(Right.DOCUMENT_DOWNLOAD))]
Someone = Annotated[Actor, Depends(signed_in())]
Ref = Annotated[str, Path(pattern=r"^DOC-[A-Z0-9]{8}$")]
_ID = r"^[A-Za-z0-9._:-]{1,128}$"


class DocumentOut(BaseModel):
    ref: str
    conversation_id: str
    name: str | None  # None once erased
    type: str
    media_type: str
    size: int
    body_sha256: str
    scan_engine: str | None
    uploaded_by: str
    created_at: dt.datetime


def describe(session: Session, envelope: Envelope, document: Document) -> DocumentOut:
    return DocumentOut(
        ref=document.ref,
        conversation_id=document.conversation_id,
        name=documents.display_name(session, envelope=envelope, document=document),
        type=document.doc_type,
        media_type=document.media_type,
        size=document.size,
        body_sha256=document.body_sha256,
        scan_engine=document.scan_engine,
        uploaded_by=document.uploaded_by,
        created_at=document.created_at,
    )


@router.get("", response_model=list[DocumentOut])
def list_documents(
    db: SessionDep,
    platform: PlatformDep,
    actor: Reader,
    conversation: Annotated[str | None, Query(pattern=_ID)] = None,
) -> list[DocumentOut]:
    """A conversation's documents, or the latest 100."""
    found = documents.of_conversation(db, conversation) if conversation else documents.recent(db)
    return [describe(db, platform.desk.envelope, document) for document in found]


@router.get("/mine", response_model=list[DocumentOut])
def my_documents(db: SessionDep, platform: PlatformDep, actor: Someone) -> list[DocumentOut]:
    """The documents the caller uploaded."""
    found = documents.uploaded_by(db, actor.user_id)
    return [describe(db, platform.desk.envelope, document) for document in found]


@router.get("/mine/{ref}")
def download_mine(ref: Ref, db: SessionDep, platform: PlatformDep, actor: Someone) -> Response:
    """One of the caller's own uploads (anyone else's is not found)."""
    document = documents.find(db, ref)
    if document is not None and document.uploaded_by != actor.user_id:
        _refused(db, document, actor=actor, via="api:mine", reason="not-uploader")
    if document is None or document.uploaded_by != actor.user_id:
        raise DealchatError(ErrorCode.NOT_FOUND, f"no document {ref} of yours", http_status=404)
    return serve(db, platform.desk.envelope, document, actor=actor, via="api:mine")


@router.get("/{ref}")
def download(ref: Ref, db: SessionDep, platform: PlatformDep, actor: Reader) -> Response:
    document = documents.find(db, ref)
    if document is None:
        raise DealchatError(ErrorCode.NOT_FOUND, f"no document {ref}", http_status=404)
    return serve(db, platform.desk.envelope, document, actor=actor, via="api")


def serve(
    session: Session, envelope: Envelope, document: Document, *, actor: Actor, via: str
) -> Response:
    """The document as a download, audited; 410 once erased by retention."""
    try:
        opened = documents.open_document(
            session, envelope=envelope, document=document, actor=actor.audit_name, via=via
        )
    except ContentErasedError as error:
        _refused(session, document, actor=actor, via=via, reason="erased")
        raise DealchatError(ErrorCode.GONE, documents.GONE, http_status=410) from error
    return Response(
        content=opened.data,
        media_type=document.media_type,
        headers={
            "Content-Disposition": disposition(opened.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
        },
    )


def _refused(session: Session, document: Document, *, actor: Actor, via: str, reason: str) -> None:
    """Audit the refusal and commit it now with the request's decision: the error raised next
    rolls back nothing."""
    documents.refuse_download(
        session, document=document, actor=actor.audit_name, via=via, reason=reason
    )
    commit_denial(session)


def disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact one in RFC 8187 form."""
    fallback = "".join(ch if ch.isascii() and ch not in '"\\' else "_" for ch in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
