"""Audit reports from the desk's side: which subjects a client or conversation filter covers,
and the readable words of message entries (decrypted here, never stored in the log)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from dealchat.conversations import bodies, integrity
from dealchat.conversations.context import Desk
from dealchat.conversations.holds import scopes_for
from dealchat.conversations.models import Message
from dealchat.conversations.report_subjects import (
    case_subjects,
    related_subjects,
    resolve_user,
)
from dealchat.documents import service as documents
from dealchat.documents.models import Document
from dealchat.identity.models import ChatIdentity, SecureLink
from dealchat.records import reports, reports_bundle
from dealchat.records.checkpoints import CheckpointKeys
from dealchat.records.events import AuditEvent
from dealchat.records.models import AuditEntry
from dealchat.records.pdf_signing import EvidenceSigner
from dealchat.records.reports_pdf import as_pdf
from dealchat.records.service import in_stream

MESSAGE_EVENTS = frozenset({"message:received", "message:sent"})
DAMAGED = "[DAMAGED:"  # a message row that no longer matches its entry, flagged in a report


def query(
    session: Session,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
    client: str | None = None,
    conversation: str | None = None,
    case: str | None = None,
) -> reports.ReportQuery:
    """The report's window and filters; with none, every entry of the window. A client is named
    by username (or user id); an unknown one raises `UnknownPersonError`."""
    reports.check_window(start, end)
    asked = (("client", client), ("conversation", conversation), ("case", case))
    filters = {k: v for k, v in asked if v}
    subjects: set[str] | None = None
    actors: set[str] = set()
    if client:
        subjects, actors = client_subjects(session, resolve_user(session, client).id)
    if conversation:
        covered = scopes_for(session, kind="conversation", target=conversation)
        subjects = covered if subjects is None else subjects & covered
        actors = set()
    if case:
        covered = case_subjects(session, case)
        subjects = covered if subjects is None else subjects & covered
        actors = set()
    return reports.ReportQuery(
        start=start,
        end=end,
        subjects=None if subjects is None else frozenset(subjects),
        actors=frozenset(actors),
        filters=filters,
    )


def client_subjects(session: Session, user_id: str) -> tuple[set[str], set[str]]:
    """Every audit subject a client's report holds, and the actors whose own acts it holds."""
    identities = _chat_subjects(session, user_id)
    scopes = scopes_for(session, kind="client", target=user_id)
    subjects = scopes | {f"user:{user_id}"} | identities
    subjects |= related_subjects(session, user_id=user_id, scopes=scopes)
    subjects |= _enrolments_in_log(session, user_id)
    return subjects, {f"user:{user_id}"} | identities


def _chat_subjects(session: Session, client: str) -> set[str]:
    """The client's chat identities and the secure links issued to their handles (the link
    entries name the handle only sealed, so they are found through the identity): the link each
    identity was linked by, named in the log's identity:linked entries (kept after retention
    deleted the spent links), and while their rows last, every link issued to the handle."""
    identities = session.execute(
        select(ChatIdentity.id, ChatIdentity.channel, ChatIdentity.external_id).where(
            ChatIdentity.user_id == client
        )
    ).all()
    found = {f"chat-identity:{row.id}" for row in identities}
    for row in identities:
        found |= {f"link:{link_id}" for link_id in _linked_by(session, row.id)}
        links = session.scalars(
            select(SecureLink.id).where(
                SecureLink.channel == row.channel, SecureLink.external_id == row.external_id
            )
        )
        found |= {f"link:{link_id}" for link_id in links}
    return found


def _enrolments_in_log(session: Session, user_id: str) -> set[str]:
    """Her authenticator enrolments as the log names them (an administrator starts them, so
    they are not her own acts; the rows go after retention, the entries stay)."""
    rows = session.execute(
        select(AuditEntry.subject, AuditEntry.payload).where(
            AuditEntry.event == AuditEvent.TOTP_ENROLMENT_STARTED,
            AuditEntry.payload.contains(user_id),
        )
    )
    return {row.subject for row in rows if json.loads(row.payload).get("user") == user_id}


def _linked_by(session: Session, identity_id: str) -> set[str]:
    """The links named by the identity's identity:linked entries (its stream in the log)."""
    payloads = session.scalars(
        select(AuditEntry.payload).where(
            in_stream(f"chat-identity:{identity_id}"),
            AuditEntry.event == AuditEvent.IDENTITY_LINKED,
        )
    )
    return {link for link in (json.loads(payload).get("link") for payload in payloads) if link}


def texts_for(desk: Desk) -> reports.Texts:
    def texts(session: Session, entries: Sequence[AuditEntry]) -> Mapping[int, str]:
        return {**_message_texts(session, desk, entries), **_document_texts(session, desk, entries)}

    return texts


def _message_texts(session: Session, desk: Desk, entries: Sequence[AuditEntry]) -> dict[int, str]:
    """Each message entry's words; a message row that is missing or no longer matches its entry
    (`integrity.message_problem`) is flagged in its place, and the rest of the report stands."""
    wanted = [
        (entry, payload)
        for entry in entries
        if entry.event in MESSAGE_EVENTS and (payload := json.loads(entry.payload)).get("message")
    ]
    ids = [payload["message"] for _entry, payload in wanted]
    found = (
        {row.id: row for row in session.scalars(select(Message).where(Message.id.in_(ids)))}
        if ids
        else {}
    )
    texts = {}
    for entry, payload in wanted:
        message_id = payload["message"]
        row = found.get(message_id)
        problem = integrity.message_problem(row, entry.event, entry.subject, payload)
        if problem is None and row is not None:
            try:
                texts[entry.seq] = bodies.text_of(session, desk, row)
                continue
            except ValueError:  # the ciphertext fails authentication
                problem = "its sealed body fails authentication"
        texts[entry.seq] = f"{DAMAGED} message {message_id} {problem}]"
    return texts


def _document_texts(session: Session, desk: Desk, entries: Sequence[AuditEntry]) -> dict[int, str]:
    """A stored document's entry reads "document DOC-...: <its name>" (the name is sealed, so it
    is opened here for the reader, like a message's words; erased, it says so)."""
    wanted = {
        entry.seq: json.loads(entry.payload).get("document")
        for entry in entries
        if entry.event == AuditEvent.DOCUMENT_STORED
    }
    ids = [document_id for document_id in wanted.values() if document_id]
    found = (
        {row.id: row for row in session.scalars(select(Document).where(Document.id.in_(ids)))}
        if ids
        else {}
    )
    texts = {}
    for seq, document_id in wanted.items():
        document = found.get(document_id)
        if document is not None:
            name = documents.display_name(session, envelope=desk.envelope, document=document)
            texts[seq] = f"document {document.ref}: {name or bodies.ERASED}"
    return texts


def build(
    session: Session,
    desk: Desk,
    *,
    start: dt.datetime | None,
    end: dt.datetime | None,
    client: str | None = None,
    conversation: str | None = None,
    case: str | None = None,
) -> reports.Report:
    wanted = query(
        session, start=start, end=end, client=client, conversation=conversation, case=case
    )
    return reports.build(session, query=wanted, now=desk.clock(), texts=texts_for(desk))


MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
    "bundle": "application/json",
}


def render(
    report: reports.Report,
    fmt: str,
    *,
    session: Session | None = None,
    keys: CheckpointKeys | None = None,
    signer: EvidenceSigner | None = None,
) -> bytes:
    """The report in `fmt` (one of MEDIA_TYPES); a bundle needs the session and the log's keys,
    and a PDF is signed by `signer` (PAdES) when given."""
    if fmt == "bundle":
        if session is None or keys is None:
            raise ValueError("a bundle needs the session and the checkpoint keys")
        return reports_bundle.as_bytes(reports_bundle.build(session, report, keys=keys))
    if fmt == "json":
        return reports.as_json(report)
    if fmt == "csv":
        return reports.as_csv(report)
    if fmt == "pdf":
        pdf = as_pdf(report)
        return pdf if signer is None else signer.sign(pdf, reason=report.query.title)
    raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(MEDIA_TYPES)}")
