"""Console pages of uploaded documents: the latest (or one conversation's) with their type, size,
scan engine and ciphertext digest, and the download (an attachment, audited like the API's),
for holders of document:download. An erased document is listed without a name and is 410 Gone."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from dealchat.access.policy import Actor
from dealchat.access.rights import Right
from dealchat.api.deps import PlatformDep, SessionDep, require
from dealchat.api.documents_views import describe, serve
from dealchat.console.pages import csrf_for, render
from dealchat.documents import service as documents
from dealchat.errors import DealchatError, ErrorCode

router = APIRouter(prefix="/console/documents", include_in_schema=False)
Reader = Annotated[Actor, Depends(require(Right.DOCUMENT_DOWNLOAD))]
_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@router.get("")
def document_list(
    request: Request,
    db: SessionDep,
    platform: PlatformDep,
    actor: Reader,
    conversation: str | None = None,
) -> Response:
    chosen = conversation if conversation and _ID.fullmatch(conversation) else None
    found = documents.of_conversation(db, chosen) if chosen else documents.recent(db)
    rows = [describe(db, platform.desk.envelope, document) for document in found]
    return render(
        "documents.html",
        actor=actor,
        csrf=csrf_for(request),
        documents=rows,
        conversation=chosen,
        size_text=documents.size_text,
    )


@router.get("/{ref}")
def document_download(
    ref: Annotated[str, Path(pattern=r"^DOC-[A-Z0-9]{8}$")],
    db: SessionDep,
    platform: PlatformDep,
    actor: Reader,
) -> Response:
    document = documents.find(db, ref)
    if document is None:
        raise DealchatError(ErrorCode.NOT_FOUND, f"no document {ref}", http_status=404)
    return serve(db, platform.desk.envelope, document, actor=actor, via="console")
